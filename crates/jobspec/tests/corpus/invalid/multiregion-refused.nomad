job "a" {
  multiregion {
    strategy {
      max_parallel = 1
    }
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
