# HCL1 form of resources-device
job "resources-device" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      resources {
        cpu    = 200
        memory = 256

        device "nvidia/gpu" {
          count = "2"

          constraint {
            attribute = "${device.attr.memory}"
            operator  = ">="
            value     = "2 GiB"
          }

          affinity {
            attribute = "${device.model}"
            value     = "Tesla K80"
            weight    = 50
          }
        }

        device "fpga" {}
      }
    }
  }
}
