job "web" {
  priority = 101

  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}
