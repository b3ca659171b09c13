# A typical web service: two nginx instances behind a dynamic port,
# rolled out one canary at a time.
job "web" {
  region      = "global"
  namespace   = "default"
  datacenters = ["dc1", "dc2"]
  node_pool   = "default"
  type        = "service"
  priority    = 70

  meta {
    team  = "platform"
    owner = "alice@example.com"
  }

  # A single constraint block (pyhcl would hand back a dict, not a list).
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel      = 2
    health_check      = "checks"
    min_healthy_time  = "15s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true
    auto_promote      = true
    canary            = 1
    stagger           = "45s"
  }

  migrate {
    max_parallel     = 1
    health_check     = "task_states"
    min_healthy_time = "20s"
    healthy_deadline = "4m"
  }

  group "frontend" {
    count          = 2
    shutdown_delay = "10s"

    network {
      mode     = "bridge"
      hostname = "frontend"

      port "http" {
        to = 8080
      }

      port "metrics" {
        static       = 9102
        to           = 9102
        host_network = "private"
      }

      dns {
        servers  = ["10.0.0.53", "1.1.1.1"]
        searches = ["service.consul"]
        options  = ["ndots:2"]
      }
    }

    service {
      name         = "web-frontend"
      provider     = "consul"
      port         = "http"
      address_mode = "alloc"
      tags         = ["urlprefix-/", "v1"]
      canary_tags  = ["canary"]
      on_update    = "require_healthy"

      meta {
        version = "1.4.2"
      }

      check {
        name            = "http-alive"
        type            = "http"
        path            = "/health"
        method          = "GET"
        protocol        = "http"
        interval        = "10s"
        timeout         = "2s"
        initial_status  = "warning"
        tls_skip_verify = false

        header {
          Accept          = ["application/json"]
          X-Forwarded-For = ["127.0.0.1", "10.0.0.1"]
        }
      }
    }

    task "nginx" {
      driver = "docker"
      user   = "nginx"

      config {
        image = "nginx:1.25"
        ports = ["http", "metrics"]
        args  = ["-g", "daemon off;"]

        # Repeated nested blocks inside a driver config become a list.
        mount {
          type     = "bind"
          source   = "local/nginx.conf"
          target   = "/etc/nginx/nginx.conf"
          readonly = true
        }

        mount {
          type   = "tmpfs"
          target = "/var/cache/nginx"
        }
      }

      env {
        LISTEN_PORT = "${NOMAD_PORT_http}"
        WORKERS     = 4
        DEBUG       = false
      }

      template {
        data          = "server { listen {{ env \"NOMAD_PORT_http\" }}; root /srv/www; }"
        destination   = "local/nginx.conf"
        change_mode   = "signal"
        change_signal = "SIGHUP"
        splay         = "10s"
        perms         = "0640"
        uid           = 101
        gid           = 101

        wait {
          min = "2s"
          max = "10s"
        }
      }

      artifact {
        source      = "https://releases.example.com/web/assets-v1.4.2.tar.gz"
        destination = "local/assets"
        mode        = "any"

        options {
          checksum = "sha256:3f1a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708"
        }

        headers {
          User-Agent    = "nomad"
          Authorization = "Bearer ${NOMAD_META_download_token}"
        }
      }

      logs {
        max_files     = 5
        max_file_size = 20
        disabled      = false
      }

      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
        disk       = 300 # deprecated: Nomad schedules by ephemeral_disk
      }

      kill_timeout   = "30s"
      kill_signal    = "SIGQUIT"
      shutdown_delay = "5s"
    }
  }
}
