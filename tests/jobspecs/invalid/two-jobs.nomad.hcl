job "web" {
  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}

job "worker" {
  group "worker" {
    task "worker" {
      driver = "exec"
    }
  }
}
