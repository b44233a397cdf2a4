# HCL1 form of affinities
job "affinities" {
  affinity {
    attribute = "${node.datacenter}"
    value     = "dc1"
    weight    = 80
  }

  group "web" {
    affinity {
      attribute = "${meta.rack}"
      operator  = "set_contains_any"
      value     = "r1,r2"
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      affinity {
        attribute = "${attr.cpu.arch}"
        value     = "amd64"
        weight    = -50
      }
    }
  }
}
