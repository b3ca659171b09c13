job "web" {
  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "equals"
    value     = "linux"
  }

  group "web" {
    task "server" {
      driver = "exec"
    }
  }
}
