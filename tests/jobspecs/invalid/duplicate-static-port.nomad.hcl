job "web" {
  group "web" {
    network {
      port "http" {
        static = 8080
      }

      port "admin" {
        static = 8080
      }
    }

    task "server" {
      driver = "exec"
    }
  }
}
