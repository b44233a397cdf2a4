# reschedule-disabled
job "reschedule-disabled" {
  group "web" {
    reschedule {
      attempts  = 0
      unlimited = false
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
