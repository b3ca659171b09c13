job "web" {
  group "web" {
    task "server" {
      driver    = "exec"
      resources = "large"
    }
  }
}
