# hcl2-var-file: values from hcl2-var-file.vars.hcl override the defaults.
variable "count" {
  type    = number
  default = 1
}

variable "dcs" {
  type    = list(string)
  default = ["dc1"]
}

variable "version" {
  type    = string
  default = "0"
}

job "hcl2-var-file" {
  datacenters = var.dcs

  meta {
    version = var.version
  }

  group "web" {
    count = var.count

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
