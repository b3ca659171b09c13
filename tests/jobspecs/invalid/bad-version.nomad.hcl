job "web" {
  constraint {
    attribute = "${attr.nomad.version}"
    version   = "at least 1.6"
  }

  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}
