job "web" {
  group "web" {
    count = -1

    task "server" {
      driver = "exec"
    }
  }
}
