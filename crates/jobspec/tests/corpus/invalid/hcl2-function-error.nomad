job "a" {
  meta {
    x = element([], 0)
  }
}
