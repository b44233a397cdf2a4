job "a" {
  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= one.two"
  }
  group "web" {
    task "app" {
      driver = "raw_exec"
    }
  }
}
