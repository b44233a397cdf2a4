# migrate-job
job "migrate-job" {
  migrate {
    max_parallel     = 2
    health_check     = "task_states"
    min_healthy_time = "15s"
    healthy_deadline = "10m"
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
