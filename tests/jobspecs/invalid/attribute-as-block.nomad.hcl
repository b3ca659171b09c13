job "web" {
  group "web" {
    count {
      value = 2
    }

    task "server" {
      driver = "exec"
    }
  }
}
