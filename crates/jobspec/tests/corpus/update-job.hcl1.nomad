# HCL1 form of update-job
job "update-job" {
  update {
    max_parallel      = 2
    min_healthy_time  = "30s"
    healthy_deadline  = "10m"
    progress_deadline = "20m"
    auto_revert       = true
    health_check      = "task_states"
    stagger           = "15s"
  }

  group "web" {
    count = "4"

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
