# A periodic batch job: runs at 02:30 Berlin time, never two at once.
job "nightly-report" {
  name        = "Nightly report"
  type        = "batch"
  datacenters = ["dc1"]
  all_at_once = true

  periodic {
    cron             = "30 2 * * *"
    time_zone        = "Europe/Berlin"
    prohibit_overlap = true
  }

  group "report" {
    # Only attempts is given: the rest comes from the batch defaults.
    restart {
      attempts = 1
    }

    reschedule {
      attempts       = 3
      interval       = "6h"
      delay          = "1m"
      delay_function = "exponential"
      max_delay      = "30m"
      unlimited      = false
    }

    task "generate" {
      driver = "exec"

      config {
        command = "/usr/local/bin/report"
        args    = ["--date", "yesterday", "--out", "${NOMAD_ALLOC_DIR}/report.csv"]
      }

      resources {
        cpu    = 1000
        memory = 1024
      }
    }
  }
}
