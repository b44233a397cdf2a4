job "a" {
  group "g" {
    dynamic "constraint" {
      for_each = "x"
      content {}
    }
  }
}
