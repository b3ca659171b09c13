# What a task brings into its directory before it starts: artifacts (http with a
# checksum and headers, a local archive, a single file), the dispatch payload, and an
# env template; how long it waits between deregistration and the kill signal.
job "batch-fetch" {
  type = "batch"

  parameterized {
    payload       = "required"
    meta_required = ["release"]
  }

  group "work" {
    shutdown_delay = "2s"

    disconnect {
      lost_after = "15m"
      replace    = false
      reconcile  = "keep_replacement"
    }

    task "fetch" {
      driver         = "exec"
      shutdown_delay = "1s"

      config {
        command = "local/tool/bin/run"
        args    = ["local/input.json"]
      }

      artifact {
        source      = "https://releases.example.com/tool/${NOMAD_META_release}/tool.tar.gz"
        destination = "local/tool"

        options {
          checksum = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        }

        headers {
          Authorization = "Bearer ${NOMAD_META_token}"
        }
      }

      artifact {
        source      = "../alloc/data/seed.tgz"
        destination = "local/seed"
        options {
          archive = false
        }
      }

      artifact {
        source = "file://${NOMAD_ALLOC_DIR}/data/motd.txt"
        mode   = "file"
      }

      dispatch_payload {
        file = "input.json"
      }

      template {
        data        = "RELEASE={{ env \"NOMAD_META_release\" }}\n"
        destination = "secrets/release.env"
        env         = true
      }
    }
  }
}
