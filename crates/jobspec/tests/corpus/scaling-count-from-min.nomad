# scaling-count-from-min
job "scaling-count-from-min" {
  group "web" {
    scaling {
      min = 2
      max = 5
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
