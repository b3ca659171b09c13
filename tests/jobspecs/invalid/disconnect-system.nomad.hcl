job "agents" {
  type = "system"
  group "agent" {
    max_client_disconnect = "1h"
    disconnect {
      stop_on_client_after = "1m"
    }
    task "t" {
      driver = "exec"
    }
  }
}
