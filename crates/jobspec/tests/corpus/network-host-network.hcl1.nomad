# HCL1 form of network-host-network
job "network-host-network" {
  group "web" {
    network {
      port "public" {
        host_network = "public"
      }

      port "private" {
        static       = 9000
        host_network = "private"
      }
    }

    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600",]
      }
    }
  }
}
