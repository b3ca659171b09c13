# A spec a learner might write on day one: every mistake is reported at once.
job "shop" {
  type     = "service"
  priority = 150

  group "web" {
    count = -2

    network {
      port "http" {
        static = 80
      }
    }

    service {
      port = "htp"
    }

    task "frontend" {
      drive = "docker"

      resources {
        cpu    = 0
        memory = "lots"
      }
    }
  }
}
