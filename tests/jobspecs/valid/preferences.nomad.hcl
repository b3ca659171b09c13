# Soft placement preferences: affinities (with and without a weight, and in
# their shorthand forms) and spreads across datacenters and racks.
job "preferences" {
  datacenters = ["us-east-1a", "us-east-1b", "us-east-1c"]

  affinity {
    attribute = "${node.datacenter}"
    value     = "us-east-1a"
  }

  spread {
    attribute = "${node.datacenter}"
    weight    = 100

    target "us-east-1a" {
      percent = 50
    }

    target "us-east-1b" {
      percent = 30
    }

    target "us-east-1c" {
      percent = 20
    }
  }

  group "api" {
    count = 6

    affinity {
      attribute = "${node.class}"
      operator  = "="
      value     = "compute"
      weight    = 80
    }

    affinity {
      attribute = "${meta.spot}"
      value     = "true"
      weight    = -50
    }

    affinity {
      attribute = "${attr.nomad.version}"
      version   = ">= 1.7.0"
      weight    = 10
    }

    affinity {
      attribute = "${attr.os.version}"
      semver    = ">= 22.4.0"
      weight    = 5
    }

    affinity {
      attribute = "${node.unique.name}"
      regexp    = "^api-"
      weight    = 20
    }

    affinity {
      attribute        = "${meta.tags}"
      set_contains_any = "fast,ssd"
      weight           = 30
    }

    affinity {
      attribute        = "${meta.tags}"
      set_contains_all = "ssd,nvme"
      weight           = 40
    }

    spread {
      attribute = "${meta.rack}"
    }

    task "server" {
      driver = "exec"

      config {
        command = "/usr/local/bin/api"
        args    = ["-listen", ":${NOMAD_PORT_http}"]
      }

      affinity {
        attribute = "${attr.cpu.arch}"
        operator  = "!="
        value     = "arm64"
        weight    = 25
      }
    }

    network {
      mode = "host"

      port "http" {}
    }
  }
}
