# hcl2-locals: locals that depend on variables and on each other.
variable "env" {
  default = "prod"
}

locals {
  full_name = "${local.prefix}-${var.env}"
  prefix    = "web"
  replicas  = var.env == "prod" ? 3 : 1
}

job "hcl2-locals" {
  name = local.full_name

  group "web" {
    count = local.replicas

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
