job "web" {
  group "web" {
    restart {
      delay    = "5 seconds"
      interval = "10m"
    }

    task "server" {
      driver       = "exec"
      kill_timeout = 30
    }
  }
}
