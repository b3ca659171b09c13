# What happens when a client stops heartbeating: the disconnect block, and
# the older group attributes it replaces. Groups keep the order written.
job "edge" {
  datacenters = ["edge-1", "edge-2"]

  group "proxy" {
    disconnect {
      lost_after = "6h"
      replace    = false
      reconcile  = "keep_original"
    }

    task "envoy" {
      driver = "docker"

      config {
        image = "envoyproxy/envoy:v1.30-latest"
      }
    }
  }

  group "sensor" {
    disconnect {
      stop_on_client_after = "90s"
      replace              = true
      reconcile            = "longest_running"
    }

    task "collector" {
      driver = "exec"

      config {
        command = "/usr/local/bin/collector"
      }
    }
  }

  group "cache" {
    stop_after_client_disconnect = "5m"

    task "varnish" {
      driver = "docker"

      config {
        image = "varnish:7.5"
      }
    }
  }

  group "legacy" {
    max_client_disconnect = "1h"

    task "agent" {
      driver = "raw_exec"

      config {
        command = "/opt/legacy/agent"
      }
    }
  }
}
