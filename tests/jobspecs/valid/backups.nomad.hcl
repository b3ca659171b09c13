# A batch job on several schedules (crons), with a job-level reschedule
# policy that each group inherits and may override.
job "backups" {
  type        = "batch"
  datacenters = ["dc1", "dc2"]
  priority    = 30

  periodic {
    crons   = ["0 */6 * * *", "15 23 * * 5"]
    enabled = true
  }

  reschedule {
    attempts       = 2
    interval       = "1h"
    delay          = "30s"
    delay_function = "constant"
  }

  group "postgres" {
    task "dump" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/pg_dumpall"
        args    = ["--file", "${NOMAD_TASK_DIR}/all.sql"]
      }

      kill_timeout = "2m"
    }
  }

  group "files" {
    reschedule {
      attempts = 5
    }

    task "rsync" {
      driver = "raw_exec"

      config {
        command = "/usr/bin/rsync"
        args    = ["-a", "/srv/data/", "backup.example.com::data"]
      }
    }
  }
}
