# HCL1 form of periodic-cron
job "periodic-cron" {
  type = "batch"
  periodic {
    cron             = "*/15 * * * *"
    prohibit_overlap = true
    time_zone        = "Europe/Paris"
  }

  group "work" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
