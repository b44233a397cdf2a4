job "a" {
  type "batch"
}
