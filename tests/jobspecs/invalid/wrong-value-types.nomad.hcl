# Values of the wrong kind: each one is reported, none stops the others.
job "web" {
  datacenters = "dc1"
  all_at_once = "yes"

  group "web" {
    count = "three"

    task "server" {
      driver = "exec"
    }
  }
}
