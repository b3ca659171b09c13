# Every way of writing a constraint: operator + value, the shorthands Nomad
# accepts in their place, and constraints at job, group and task level.
job "placement" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "="
    value     = "linux"
  }

  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= 1.6.0, < 2.0"
  }

  constraint {
    attribute = "${attr.os.version}"
    semver    = ">= 22.4.0"
  }

  constraint {
    attribute = "${node.unique.name}"
    regexp    = "^worker-\\d+$"
  }

  constraint {
    attribute    = "${meta.features}"
    set_contains = "ssd,avx2"
  }

  constraint {
    distinct_hosts = true
  }

  constraint {
    distinct_property = "${meta.rack}"
    value             = "2"
  }

  group "cache" {
    count = 3

    constraint {
      attribute = "${attr.cpu.numcores}"
      operator  = ">="
      value     = "4"
    }

    task "redis" {
      driver = "docker"

      config {
        image = "redis:7"
      }

      constraint {
        attribute = "${attr.cpu.arch}"
        operator  = "!="
        value     = "arm64"
      }

      constraint {
        attribute = "${meta.maintenance}"
        operator  = "is_not_set"
      }

      constraint {
        attribute = "${attr.driver.docker}"
        operator  = "is_set"
      }

      constraint {
        attribute = "${meta.zones}"
        operator  = "set_contains_any"
        value     = "a,b"
      }

      resources {
        cpu    = 250
        memory = 128
      }
    }
  }
}
