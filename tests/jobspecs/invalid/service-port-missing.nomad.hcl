job "web" {
  group "web" {
    network {
      port "http" {}
    }

    service {
      name = "web"
      port = "https"
    }

    task "server" {
      driver = "exec"
    }
  }
}
