job "web" "frontend" {
  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}
