job "report" {
  type = "batch"

  periodic {
    cron = "every day at noon"
  }

  group "report" {
    task "run" {
      driver = "exec"
    }
  }
}
