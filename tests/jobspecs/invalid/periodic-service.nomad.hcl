job "web" {
  type = "service"

  periodic {
    cron = "*/5 * * * *"
  }

  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}
