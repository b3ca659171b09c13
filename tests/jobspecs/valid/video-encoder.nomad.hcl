# A parameterized job: it only runs when dispatched with a payload and meta.
job "video-encoder" {
  type        = "batch"
  datacenters = ["dc1"]

  parameterized {
    payload       = "required"
    meta_required = ["input_url"]
    meta_optional = ["codec", "bitrate"]
  }

  meta {
    codec   = "h264"
    bitrate = 4000
  }

  group "encode" {
    task "ffmpeg" {
      driver = "exec"

      config {
        command = "/usr/bin/ffmpeg"
        args    = ["-i", "${NOMAD_META_input_url}", "-c:v", "${NOMAD_META_codec}", "local/out.mp4"]
      }

      dispatch_payload {
        file = "job.json"
      }

      resources {
        cpu    = 2000
        memory = 2048
      }
    }
  }
}
