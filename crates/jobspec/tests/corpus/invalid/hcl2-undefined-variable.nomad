job "a" {
  datacenters = [var.dc]
}
