job "web" {
  datacenters = ["dc1"]

  group "web" {
    task "server" {
      driver = "exec"

      config {
        command = "/usr/bin/server"
      }
    }
  # the group's closing brace is missing
}
