job "web" {
  group "web" {
    task "server" {
      driver = "exec"

      template {
        destination = "local/index.html"
        data        = <<EOT
<h1>Hello from {{ env "NOMAD_ALLOC_NAME" }}</h1>
EOF
      }
    }
  }
}
