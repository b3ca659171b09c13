# A batch job that asks for whole cores, GPUs and an FPGA, and a task-level
# network (the older place for one).
job "training" {
  type        = "batch"
  datacenters = ["gpu"]

  group "trainer" {
    ephemeral_disk {
      size = 10240
    }

    task "train" {
      driver = "docker"

      config {
        image   = "pytorch/pytorch:2.3.0-cuda12.1-cudnn8-runtime"
        command = "python"
        args    = ["train.py", "--epochs", "20"]
      }

      resources {
        cores      = 4
        memory     = 8192
        memory_max = 16384

        device "nvidia/gpu" {
          count = 2
        }

        device "intel/fpga" {}

        network {
          mbits = 100

          port "tensorboard" {}
        }
      }

      kill_timeout = "5m"
    }
  }
}
