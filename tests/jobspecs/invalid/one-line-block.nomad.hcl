job "web" {
  group "web" {
    task "server" {
      driver = "docker"
      config {
        image = "nginx:1.25"
      }
      resources { cpu = 50 memory = 32 }
    }
  }
}
