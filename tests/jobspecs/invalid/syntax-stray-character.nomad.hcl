job "web" {
  group "web" {
    count = 2;

    task "server" {
      driver = "exec"
    }
  }
}
