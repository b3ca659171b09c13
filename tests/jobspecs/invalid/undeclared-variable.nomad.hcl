variable "image" {
  type    = string
  default = "nginx:1.25"
}

job "web" {
  group "web" {
    task "server" {
      driver = "docker"

      config {
        image = var.imag
      }
    }
  }
}
