# Host and CSI volumes claimed by a group and mounted into its task, plus a
# sticky, migrating ephemeral disk.
job "postgres" {
  datacenters = ["dc1"]

  group "db" {
    volume "certs" {
      type      = "host"
      source    = "tls-certs"
      read_only = true
    }

    volume "data" {
      type            = "csi"
      source          = "pg-data"
      access_mode     = "single-node-writer"
      attachment_mode = "file-system"
      per_alloc       = true
    }

    ephemeral_disk {
      sticky  = true
      migrate = true
      size    = 2048
    }

    network {
      mode = "host"

      port "db" {
        static = 5432
      }
    }

    task "postgres" {
      driver = "docker"

      config {
        image = "postgres:16"
        ports = ["db"]
      }

      volume_mount {
        volume           = "data"
        destination      = "/var/lib/postgresql/data"
        read_only        = false
        propagation_mode = "private"
      }

      volume_mount {
        volume           = "certs"
        destination      = "/etc/ssl/pg"
        read_only        = true
        propagation_mode = "host-to-task"
      }

      env {
        PGDATA = "/var/lib/postgresql/data/pgdata"
      }

      resources {
        cpu    = 1500
        memory = 4096
      }
    }
  }
}
