# constraints-operators
job "constraints-operators" {
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  constraint {
    attribute = "${attr.cpu.numcores}"
    operator  = ">="
    value     = "2"
  }

  constraint {
    attribute = "${meta.rack}"
    operator  = "!="
    value     = "r1"
  }

  constraint {
    attribute = "${attr.unique.hostname}"
    operator  = "is_set"
  }

  constraint {
    attribute = "${meta.tags}"
    operator  = "set_contains_any"
    value     = "a,b"
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
