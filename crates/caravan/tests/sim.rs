//! `caravan-sim` at a tiny size: it starts its own server, places every allocation on its
//! simulated nodes, reports them running and prints its figures as key=value lines.

use std::collections::HashMap;
use std::process::Command;

const SIM: &str = env!("CARGO_BIN_EXE_caravan-sim");

#[test]
fn the_simulator_places_every_allocation_and_prints_its_figures() {
    let output = Command::new(SIM)
        .args(["-nodes", "5", "-jobs", "2", "-count", "5", "-timeout", "2m"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let figures: HashMap<&str, &str> = stdout
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    for key in [
        "nodes",
        "jobs",
        "count",
        "placed",
        "running",
        "placements_per_s",
        "eval_p50_ms",
        "eval_p99_ms",
        "server_rss_mib",
        "server_cpu_s",
        "sim_cpu_s",
        "heartbeats_per_s",
        "leader_p50_ms",
        "leader_p99_ms",
        "duration_s",
    ] {
        assert!(figures.contains_key(key), "no {key}= in:\n{stdout}");
    }
    assert_eq!(figures["placed"], "10", "{stdout}");
    assert_eq!(figures["running"], "10", "{stdout}");
    assert_eq!(figures["evals"], "2", "{stdout}");
    assert!(
        figures["server_rss_mib"]
            .parse::<f64>()
            .is_ok_and(|mib| mib > 0.0),
        "{stdout}"
    );
    // Figures in seconds (a run this short may round the simulator's to 0.0).
    for key in ["server_cpu_s", "sim_cpu_s"] {
        assert!(
            figures[key].parse::<f64>().is_ok_and(|secs| secs >= 0.0),
            "{key} in:\n{stdout}"
        );
    }
}

#[test]
fn the_simulator_names_a_bad_flag() {
    let output = Command::new(SIM).args(["-nodes", "none"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("-nodes"), "{stderr}");
}
