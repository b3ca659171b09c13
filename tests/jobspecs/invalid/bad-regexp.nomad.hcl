job "web" {
  group "web" {
    constraint {
      attribute = "${node.unique.name}"
      regexp    = "^web-[0-9+$"
    }

    task "server" {
      driver = "exec"
    }
  }
}
