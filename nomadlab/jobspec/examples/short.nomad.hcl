job "example" {
  group "web" {
    network {
      port "http" {}
    }

    task "server" {
      driver = "exec"

      config {
        command = "python3"
        args    = ["-m", "http.server", "${NOMAD_PORT_http}"]
      }

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
