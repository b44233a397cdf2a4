job "a" {
  datacenters = [shout("dc1")]
}
