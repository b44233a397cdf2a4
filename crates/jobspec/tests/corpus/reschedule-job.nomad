# reschedule-job
job "reschedule-job" {
  reschedule {
    delay          = "1m"
    delay_function = "fibonacci"
    max_delay      = "2h"
    unlimited      = true
  }

  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
