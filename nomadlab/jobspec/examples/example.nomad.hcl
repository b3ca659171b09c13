# An example job, as `nomadlab job init` writes it. Run it with `nomadlab job run`
# (or in a notebook with the %%nomad job run cell magic) and follow it from job to
# evaluation to allocation to the client that runs it.
#
# Every block below is explained in Nomad's job specification documentation:
# https://developer.hashicorp.com/nomad/docs/job-specification
job "example" {
  # The datacenters this job may run in; "*" means any. nomadlab's dev agent puts its
  # clients in "dc1" unless a lab adds nodes elsewhere.
  datacenters = ["*"]

  # service jobs run until stopped; batch jobs run to completion.
  type = "service"

  # A group is placed on one node as one allocation; count copies are made.
  group "web" {
    count = 1

    # A dynamic port: the scheduler picks a free host port and tells the task
    # through NOMAD_PORT_http.
    network {
      port "http" {}
    }

    # Restart a failed task twice within 30 minutes, 15s apart, then fail it so the
    # scheduler can reschedule the allocation elsewhere.
    restart {
      attempts = 2
      interval = "30m"
      delay    = "15s"
      mode     = "fail"
    }

    task "server" {
      # exec runs a real process on the client, isolated as far as the host allows.
      driver = "exec"

      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}", "--directory", "local"]
      }

      # Rendered into the task's local/ directory before the task starts.
      template {
        data        = "Hello from {{ env \"NOMAD_ALLOC_NAME\" }} on {{ env \"node.unique.name\" }}\n"
        destination = "local/index.html"
      }

      # What the scheduler reserves on the node: CPU in MHz, memory in MB.
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
