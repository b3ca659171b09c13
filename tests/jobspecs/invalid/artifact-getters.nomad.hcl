job "fetchers" {
  group "g" {
    task "t" {
      driver = "exec"
      artifact {
        source = "git::https://github.com/hashicorp/example.git"
      }
      artifact {
        source = "s3::https://s3.amazonaws.com/bucket/app.zip"
      }
      artifact {
        source      = "https://example.com/app.tar.gz"
        destination = "../../../etc"
        options {
          checksum = "sha256:abc"
        }
      }
      dispatch_payload {
        file = "../../../../payload"
      }
    }
  }
}
