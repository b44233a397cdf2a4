# HCL1 form of runtime-interpolation
job "runtime-interpolation" {
  constraint {
    attribute = "${attr.os.name}"
    value     = "linux"
  }

  group "web" {
    meta {
      node = "${node.unique.name}"
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "${NOMAD_TASK_DIR}/run.sh"
        args    = ["${NOMAD_ALLOC_ID}", "${meta.rack}", "${attr.kernel.name}",]
      }
    }
  }
}
