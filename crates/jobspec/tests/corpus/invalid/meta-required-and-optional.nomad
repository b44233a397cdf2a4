job "a" {
  type = "batch"
  parameterized {
    meta_required = ["x"]
    meta_optional = ["x"]
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
