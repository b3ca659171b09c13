# Three typos, each reported with the closest allowed name.
job "web" {
  datacentres = ["dc1"]

  group "web" {
    task "server" {
      drivr = "exec"

      resources {
        cpu    = 200
        memroy = 256
      }
    }
  }
}
