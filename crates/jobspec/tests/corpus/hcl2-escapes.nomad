# hcl2-escapes: $${...} keeps a literal ${...}; heredocs; runtime references stay text.
job "hcl2-escapes" {
  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sh"
        args    = ["-c", "echo $${HOME} ${NOMAD_TASK_NAME}"]
      }

      template {
        destination = "local/run.sh"
        data        = <<-EOT
          #!/bin/sh
          echo "$${NOMAD_ALLOC_ID}"
          exec sleep 3600
        EOT
      }

      env {
        DC = node.datacenter
      }
    }
  }
}
