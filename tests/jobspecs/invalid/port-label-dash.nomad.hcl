job "web" {
  group "web" {
    network {
      port "http-alt" {}
    }

    task "server" {
      driver = "exec"
    }
  }
}
