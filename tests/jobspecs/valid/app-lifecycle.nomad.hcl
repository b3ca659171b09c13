# Task lifecycle hooks around a main task, listed in the order they were
# written (not sorted). Restart policies: group over the service default,
# task over the group.
job "app" {
  datacenters = ["dc1"]

  group "app" {
    restart {
      attempts = 4
      interval = "10m"
      delay    = "20s"
      mode     = "delay"
    }

    task "wait-for-db" {
      driver = "exec"

      lifecycle {
        hook    = "prestart"
        sidecar = false
      }

      config {
        command = "/bin/sh"
        args    = ["-c", "until nc -z db.service.consul 5432; do sleep 1; done"]
      }
    }

    task "main" {
      driver = "exec"
      leader = true

      config {
        command = "/usr/local/bin/app"
      }

      restart {
        attempts         = 1
        render_templates = true
      }

      template {
        source      = "local/app.env.tpl"
        destination = "secrets/app.env"
        env         = true
        change_mode = "restart"
      }

      template {
        data            = "[[ key \"app/config\" ]]"
        destination     = "local/config.json"
        left_delimiter  = "[["
        right_delimiter = "]]"
        change_mode     = "noop"
      }
    }

    task "log-shipper" {
      driver = "exec"

      lifecycle {
        hook    = "poststart"
        sidecar = true
      }

      config {
        command = "/usr/local/bin/shipper"
        args    = ["--path", "${NOMAD_ALLOC_DIR}/logs"]
      }
    }

    task "deregister" {
      driver = "exec"

      lifecycle {
        hook = "poststop"
      }

      config {
        command = "/usr/local/bin/deregister"
      }

      kill_signal = "SIGINT"
    }
  }
}
