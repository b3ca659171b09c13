variable "datacenters" {
  type    = list(string)
  default = ["dc1", "dc2"]
}

variable "count" {
  type    = number
  default = 3
  validation {
    condition     = var.count > 0
    error_message = "count must be positive"
  }
}

variable "image" {
  type    = string
  default = "nomadlab/busybox:latest"
}

locals {
  ports = { http = 8080, metrics = 0 }
  tags  = [for t in ["web", "v1"] : lower(t)]
}

job "web" {
  datacenters = var.datacenters
  type        = "service"
  priority    = 60

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  group "frontend" {
    count = var.count

    network {
      dynamic "port" {
        for_each = local.ports
        labels   = [port.key]
        content {
          to = port.value
        }
      }
    }

    service {
      name = "frontend"
      port = "http"
      tags = local.tags
    }

    task "server" {
      driver = "docker"

      config {
        image = var.image
        args  = ["httpd", "-f", "-p", "${NOMAD_PORT_http}"]
        ports = ["http"]
      }

      resources {
        cpu    = var.count > 2 ? 250 : 100
        memory = 128
      }
    }
  }
}
