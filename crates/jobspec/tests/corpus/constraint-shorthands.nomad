# constraint-shorthands
job "constraint-shorthands" {
  constraint {
    attribute = "${attr.nomad.version}"
    version   = ">= 1.6, < 2.0"
  }

  constraint {
    attribute = "${attr.os.version}"
    semver    = "~> 22.04"
  }

  constraint {
    attribute = "${attr.kernel.name}"
    regexp    = "^(linux|darwin)$"
  }

  constraint {
    attribute    = "${meta.features}"
    set_contains = "ssd"
  }

  constraint {
    distinct_hosts = true
  }

  constraint {
    distinct_property = "${meta.rack}"
    value             = "2"
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
