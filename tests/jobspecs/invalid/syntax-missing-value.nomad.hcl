job "web" {
  group "web" {
    task "server" {
      driver = "exec"

      resources {
        cpu    = 200
        memory =
      }
    }
  }
}
