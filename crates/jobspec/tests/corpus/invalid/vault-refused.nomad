job "a" {
  group "web" {
    task "app" {
      driver = "raw_exec"
      vault {
        policies = ["web"]
      }
    }
  }
}
