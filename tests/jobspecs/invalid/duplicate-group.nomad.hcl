job "web" {
  group "web" {
    task "server" {
      driver = "exec"
    }
  }

  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}
