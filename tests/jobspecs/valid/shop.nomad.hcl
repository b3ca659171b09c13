# Several groups and tasks, deliberately not in alphabetical order: the job
# keeps them as written. Group-level update and migrate are merged with the
# job's; the job's reschedule policy is merged into every group.
job "shop" {
  datacenters = ["dc1"]

  update {
    max_parallel     = 1
    min_healthy_time = "30s"
    healthy_deadline = "5m"
  }

  migrate {
    max_parallel = 2
  }

  reschedule {
    delay     = "1m"
    max_delay = "2h"
  }

  group "web" {
    count = 3

    update {
      canary       = 2
      auto_promote = false
    }

    migrate {
      health_check = "task_states"
    }

    meta {
      tier = "frontend"
    }

    task "storefront" {
      driver = "docker"

      config {
        image = "example/storefront:2.1"
      }

      meta {
        language = "typescript"
      }
    }
  }

  group "checkout" {
    count = 2

    reschedule {
      delay_function = "fibonacci"
      max_delay      = "10m"
    }

    task "payments" {
      driver = "docker"
      kind   = "payments-v2"

      config {
        image = "example/payments:5.0"
      }
    }

    task "fraud-check" {
      driver = "docker"

      config {
        image = "example/fraud:1.9"
      }
    }

    task "audit" {
      driver = "exec"

      config {
        command = "/usr/local/bin/audit-log"
      }
    }
  }

  group "api" {
    task "catalog" {
      driver = "docker"

      config {
        image = "example/catalog:3.3"
      }
    }
  }
}
