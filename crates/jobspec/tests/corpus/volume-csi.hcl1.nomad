# HCL1 form of volume-csi
job "volume-csi" {
  group "web" {
    volume "db" {
      type            = "csi"
      source          = "postgres"
      access_mode     = "single-node-writer"
      attachment_mode = "file-system"
      per_alloc       = true

      mount_options {
        fs_type     = "ext4"
        mount_flags = ["noatime",]
      }
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }

      volume_mount {
        volume           = "db"
        destination      = "/var/lib/postgres"
        read_only        = false
        propagation_mode = "host-to-task"
      }
    }
  }
}
