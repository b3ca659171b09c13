job "web" {
  priority = 0

  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}
