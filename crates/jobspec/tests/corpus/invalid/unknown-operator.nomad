job "a" {
  constraint {
    attribute = "${attr.kernel.name}"
    operator  = "like"
    value     = "linux"
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
