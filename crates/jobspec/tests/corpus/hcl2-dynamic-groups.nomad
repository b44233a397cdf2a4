# hcl2-dynamic-groups: dynamic groups, each with a nested dynamic task env.
variable "groups" {
  default = {
    api    = 2
    worker = 1
  }
}

job "hcl2-dynamic-groups" {
  dynamic "group" {
    for_each = var.groups
    labels   = [group.key]

    content {
      count = group.value

      task "app" {
        driver = "raw_exec"

        config {
          command = "/bin/sleep"
          args    = ["3600"]
        }

        dynamic "constraint" {
          for_each = group.value > 1 ? [1] : []

          content {
            distinct_hosts = true
          }
        }
      }
    }
  }
}
