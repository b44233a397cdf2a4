# HCL1 form of scaling
job "scaling" {
  group "web" {
    count = "3"

    scaling {
      enabled = true
      min     = 1
      max     = 10

      policy {
        cooldown = "1m"
      }
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
