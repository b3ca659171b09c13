job "edge" {
  group "both" {
    max_client_disconnect = "1h"
    disconnect {
      lost_after = "30m"
      reconcile  = "newest"
    }
    task "t" {
      driver = "exec"
    }
  }
  group "stop-and-lost" {
    disconnect {
      lost_after           = "5m"
      stop_on_client_after = "1m"
    }
    task "t" {
      driver = "exec"
    }
  }
}
