job "web" {
  group "web" {
    affinity {
      attribute = "${node.class}"
      value     = "compute"
      weight    = 0
    }

    affinity {
      attribute = "${node.datacenter}"
      value     = "dc1"
      weight    = 200
    }

    task "server" {
      driver = "exec"
    }
  }
}
