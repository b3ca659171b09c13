# A system job: one allocation on every eligible node, updated three nodes
# at a time. No reschedule policy: system jobs are placed per node.
job "node-exporter" {
  type        = "system"
  datacenters = ["*"]
  node_pool   = "all"
  priority    = 90

  update {
    max_parallel = 3
    stagger      = "10s"
  }

  group "exporter" {
    network {
      mode = "host"

      port "metrics" {
        static = 9100
      }
    }

    service {
      name     = "node-exporter"
      provider = "nomad"
      port     = "metrics"
      tags     = ["prometheus"]

      check {
        type     = "tcp"
        interval = "30s"
        timeout  = "5s"
      }
    }

    task "node-exporter" {
      driver = "exec"
      user   = "nobody"

      config {
        command = "local/node_exporter"
        args    = ["--web.listen-address=:${NOMAD_PORT_metrics}"]
      }

      artifact {
        source = "https://github.com/prometheus/node_exporter/releases/download/v1.8.1/node_exporter-1.8.1.linux-amd64.tar.gz"
      }

      resources {
        cores  = 1
        memory = 64
      }
    }
  }
}
