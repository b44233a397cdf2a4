# HCL1 form of reschedule-group
job "reschedule-group" {
  type = "batch"
  reschedule {
    attempts = 3
    interval = "2h"
  }

  group "work" {
    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "5m"
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
