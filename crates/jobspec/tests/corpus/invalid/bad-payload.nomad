job "a" {
  type = "batch"
  parameterized {
    payload = "sometimes"
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
