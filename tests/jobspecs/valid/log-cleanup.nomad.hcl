# A sysbatch job: runs once on every node, every Sunday night.
job "log-cleanup" {
  type        = "sysbatch"
  datacenters = ["dc1"]

  periodic {
    cron             = "0 3 * * 0"
    prohibit_overlap = true
  }

  group "cleanup" {
    task "prune" {
      driver = "raw_exec"
      user   = "root"

      config {
        command = "/usr/bin/find"
        args    = ["/var/log/app", "-name", "*.gz", "-mtime", "+14", "-delete"]
      }

      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
