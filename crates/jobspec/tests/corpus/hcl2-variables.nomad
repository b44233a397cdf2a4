# hcl2-variables: declared variables with defaults and types, used across the job.
variable "datacenters" {
  type    = list(string)
  default = ["dc1", "dc2"]
}

variable "count" {
  type    = number
  default = 3
}

variable "image" {
  type        = string
  description = "what to run"
  default     = "/bin/sleep"
}

variable "debug" {
  type    = bool
  default = false
}

job "hcl2-variables" {
  datacenters = var.datacenters

  group "web" {
    count = var.count

    task "app" {
      driver = "raw_exec"

      config {
        command = var.image
        args    = ["${var.count}"]
      }

      env {
        DEBUG = var.debug
      }
    }
  }
}
