# HCL1 form of parameterized
job "parameterized" {
  type = "batch"
  parameterized {
    payload       = "required"
    meta_required = ["customer",]
    meta_optional = ["priority", "region",]
  }

  group "work" {
    task "process" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      dispatch_payload {
        file = "input.json"
      }
    }
  }
}
