# hcl2-functions-collections: list and map functions.
locals {
  base   = { tier = "web", zone = "a" }
  extra  = { zone = "b", owner = "ops" }
  merged = merge(local.base, local.extra)
  nums   = [3, 1, 2]
}

job "hcl2-functions-collections" {
  datacenters = concat(["dc1"], ["dc2", "dc3"])

  meta {
    length   = length(local.nums)
    keys     = join(",", keys(local.merged))
    values   = join(",", values(local.merged))
    lookup   = lookup(local.merged, "owner", "none")
    missing  = lookup(local.merged, "nope", "default")
    element  = element(["a", "b", "c"], 4)
    contains = contains(["a", "b"], "b")
    coalesce = coalesce("", "first")
    distinct = join(",", distinct(["a", "a", "b"]))
    flatten  = join(",", flatten([["a"], ["b", ["c"]]]))
    sort     = join(",", sort(["b", "c", "a"]))
    reverse  = join(",", reverse(["a", "b"]))
    slice    = join(",", slice(["a", "b", "c", "d"], 1, 3))
    index    = index(["a", "b"], "b")
    zipmap   = jsonencode(zipmap(["a", "b"], [1, 2]))
    compact  = join(",", compact(["a", "", "b"]))
    range    = join(",", range(3))
    range2   = join(",", range(1, 10, 3))
  }

  group "web" {
    task "app" {
      driver = "raw_exec"

      config {
        command = "/bin/sleep"
        args    = ["3600"]
      }
    }
  }
}
