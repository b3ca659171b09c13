# ${...} is resolved per node and per task when the job runs: the parser
# must hand every one of these through untouched.
job "runtime-vars" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${meta.env}"
    value     = "${NOMAD_META_target_env}"
  }

  group "worker" {
    count = 1

    network {
      mode = "host"

      port "http" {}
    }

    service {
      name = "${NOMAD_JOB_NAME}-${NOMAD_GROUP_NAME}"
      port = "http"
      tags = ["alloc-${NOMAD_ALLOC_INDEX}", "dc-${node.datacenter}"]
    }

    task "worker" {
      driver = "exec"

      config {
        command = "${NOMAD_TASK_DIR}/worker"
        args = [
          "--listen", "${NOMAD_IP_http}:${NOMAD_PORT_http}",
          "--node", "${node.unique.name}",
          "--region", "${node.region}",
          "--home", "${env["HOME"]}",
        ]
      }

      env {
        DATA_DIR   = "${NOMAD_ALLOC_DIR}/data"
        HOST_IP    = "${attr.unique.network.ip-address}"
        RACK       = "${meta.rack}"
        NODE_CLASS = "${node.class}"
        POOL       = "${node.pool}"
        CPU_LIMIT  = "${NOMAD_CPU_LIMIT}"
        MEM_LIMIT  = "${NOMAD_MEMORY_LIMIT}"
        SECRETS    = "${NOMAD_SECRETS_DIR}"
      }

      template {
        data        = "ALLOC={{ env \"NOMAD_ALLOC_ID\" }} NODE=${node.unique.id}"
        destination = "${NOMAD_TASK_DIR}/alloc.txt"
      }

      artifact {
        source      = "https://artifacts.example.com/worker/${attr.cpu.arch}/worker"
        mode        = "file"
        destination = "local/worker"
      }
    }
  }
}
