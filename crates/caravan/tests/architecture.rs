//! The build as the tests see it: ARCHITECTURE.md's crate graph is the one Cargo builds
//! (a crate that gains or loses a workspace dependency fails here until the map says so
//! too), and the test harness runs the binary Cargo built for these tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The `text` block under `## Crate graph`: `crate -> dep, dep`.
fn documented(architecture: &str) -> Graph {
    let section = architecture
        .split("## Crate graph")
        .nth(1)
        .expect("ARCHITECTURE.md has a \"## Crate graph\" section");
    let block = section
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the crate graph section holds a ```text block");
    block
        .lines()
        .filter_map(|line| line.split_once("->"))
        .map(|(name, deps)| {
            let deps = deps
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect();
            (name.trim().to_string(), deps)
        })
        .collect()
}

/// The workspace's crates and their normal (not dev, not build) workspace dependencies,
/// by short name (`caravan-api` is `api`; the binary is `caravan`).
fn built(workspace: &Path) -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let short = |name: &str| name.strip_prefix("caravan-").unwrap_or(name).to_string();
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let members: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str())
        .map(str::to_string)
        .collect();
    packages
        .iter()
        .map(|package| {
            let deps = package["dependencies"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|name| members.contains(*name))
                .map(short)
                .collect();
            (short(package["name"].as_str().unwrap_or_default()), deps)
        })
        .collect()
}

#[test]
fn the_documented_crate_graph_is_the_one_cargo_builds() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let architecture = std::fs::read_to_string(workspace.join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md at the workspace root");
    assert_eq!(documented(&architecture), built(&workspace));
}

#[test]
fn the_harness_runs_the_binary_cargo_built() {
    assert_eq!(
        caravan_testkit::harness::binary().canonicalize().ok(),
        Path::new(env!("CARGO_BIN_EXE_caravan")).canonicalize().ok()
    );
}
