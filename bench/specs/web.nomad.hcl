job "web" {
  datacenters = ["dc1", "dc2"]
  type        = "service"
  priority    = 60

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  update {
    max_parallel     = 2
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    auto_revert      = true
  }

  group "frontend" {
    count = 3

    network {
      port "http" {
        to = 8080
      }
      port "metrics" {}
    }

    spread {
      attribute = "${node.datacenter}"
      weight    = 80
    }

    affinity {
      attribute = "${meta.rack}"
      value     = "r1"
      weight    = 40
    }

    service {
      name = "frontend"
      port = "http"
      tags = ["web", "v1"]

      check {
        type     = "http"
        path     = "/health"
        interval = "10s"
        timeout  = "2s"
      }
    }

    restart {
      attempts = 3
      delay    = "10s"
    }

    task "server" {
      driver = "docker"

      config {
        image = "nomadlab/busybox:latest"
        args  = ["httpd", "-f", "-p", "${NOMAD_PORT_http}"]
        ports = ["http"]
      }

      env {
        GREETING = "hello"
        REGION   = "${node.region}"
      }

      template {
        data        = "upstream = {{ env \"NOMAD_ADDR_http\" }}\n"
        destination = "local/app.conf"
      }

      resources {
        cpu    = 250
        memory = 128
      }
    }
  }
}
