# Health checks of every type, check_restart on the service (inherited by
# checks that have none) and on a check, and a task-level service.
job "billing" {
  datacenters = ["dc1"]

  group "billing" {
    count = 2

    network {
      mode = "bridge"

      port "http" {
        to = 8080
      }

      port "grpc" {
        to = 9090
      }

      port "admin" {}
    }

    service {
      name = "billing-api"
      port = "http"
      task = "api"

      check_restart {
        limit           = 3
        grace           = "90s"
        ignore_warnings = false
      }

      check {
        name                     = "ready"
        type                     = "http"
        path                     = "/ready"
        method                   = "POST"
        body                     = "{\"probe\": true}"
        interval                 = "15s"
        timeout                  = "3s"
        success_before_passing   = 2
        failures_before_critical = 3
        on_update                = "ignore_warnings"

        check_restart {
          limit           = 5
          grace           = "2m"
          ignore_warnings = true
        }
      }

      check {
        name     = "grpc-health"
        type     = "grpc"
        port     = "grpc"
        interval = "20s"
        timeout  = "2s"
      }

      check {
        name         = "migrations-done"
        type         = "script"
        task         = "api"
        command      = "/usr/local/bin/check-migrations"
        args         = ["--quiet"]
        address_mode = "driver"
        interval     = "1m"
        timeout      = "10s"
        on_update    = "ignore"
        expose       = false
      }
    }

    task "api" {
      driver = "docker"

      config {
        image = "example/billing:4.2"
        ports = ["http", "grpc", "admin"]
      }

      service {
        name         = "billing-admin"
        provider     = "nomad"
        port         = "admin"
        address      = "10.10.0.5"
        address_mode = "auto"
        tags         = ["internal"]

        meta {
          owner = "billing-team"
        }

        check {
          type     = "tcp"
          interval = "10s"
          timeout  = "1s"
        }
      }

      resources {
        cpu    = 400
        memory = 512
      }
    }
  }
}
