job "a" {
  update {
    health_check = "http"
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
