job "web" {
  group "web" {
    task "server" {
      driver = "exec"
    }

    task "server" {
      driver = "docker"
    }
  }
}
