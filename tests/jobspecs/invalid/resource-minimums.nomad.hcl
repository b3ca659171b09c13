job "web" {
  group "web" {
    task "server" {
      driver = "exec"

      resources {
        cpu    = 0
        memory = 5
      }
    }
  }
}
