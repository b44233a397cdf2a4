job "a" {
  constraint {
    attribute = "${attr.kernel.name}"
    regexp    = "linux("
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
