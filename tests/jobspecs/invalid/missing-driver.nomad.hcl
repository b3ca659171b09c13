job "web" {
  group "web" {
    task "server" {
      config {
        command = "/usr/bin/server"
      }
    }
  }
}
