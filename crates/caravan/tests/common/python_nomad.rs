//! python-nomad 2.1.0's own test suite, run unchanged against an agent: `.ci/run`
//! downloads its source release (which carries its tests) into `target/python-nomad`
//! and its test dependencies, pinned, from the Python package registry into the venv
//! `target/python-nomad/venv`. Elsewhere a test says what is missing and skips; under
//! `CI` it fails instead.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Agent;

/// The python-nomad release `.ci/run` fetches.
pub const PYTHON_NOMAD: &str = "python_nomad-2.1.0";

/// The two files the release leaves out of its tests: where the agent is, and the
/// client fixtures the tests take.
const COMMON_PY: &str = r#"import os
IP = os.environ.get("NOMAD_IP", "127.0.0.1")
NOMAD_PORT = os.environ.get("NOMAD_PORT", "4646")
NOMAD_TOKEN = os.environ.get("NOMAD_TOKEN") or None
NOMAD_NAMESPACE = "admin"
"#;

const CONFTEST_PY: &str = r#"import pytest
import nomad
import tests.common as common


@pytest.fixture
def nomad_setup():
    return nomad.Nomad(host=common.IP, port=common.NOMAD_PORT, verify=False, token=common.NOMAD_TOKEN)


@pytest.fixture
def nomad_setup_with_namespace():
    return nomad.Nomad(
        host=common.IP, port=common.NOMAD_PORT, verify=False, token=common.NOMAD_TOKEN, namespace=common.NOMAD_NAMESPACE
    )
"#;

/// The venv `.ci/run` makes beside the release, with python-nomad's test dependencies.
fn venv_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/python-nomad/venv/bin/python")
}

/// The Python that runs the suite: the venv's.
pub fn python() -> PathBuf {
    venv_python()
}

fn source() -> Result<PathBuf, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/python-nomad");
    let dir = root.join(PYTHON_NOMAD);
    if !dir.join("tests/test_acl.py").is_file() {
        return Err(format!(
            "python-nomad's tests are not at {} (.ci/run downloads them)",
            dir.display()
        ));
    }
    let modules = Command::new(python())
        .args(["-c", "import pytest, requests, mock, responses, flaky"])
        .output()
        .map_err(|e| format!("{} cannot run (.ci/run makes it): {e}", python().display()))?;
    if !modules.status.success() {
        return Err(format!(
            "{} lacks pytest, requests, mock, responses or flaky (.ci/run installs them): {}",
            python().display(),
            String::from_utf8_lossy(&modules.stderr).trim()
        ));
    }
    Ok(dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A copy of the suite with the files its tests import, or `None` (after saying why)
/// when it is not there outside CI.
pub fn suite() -> Option<tempfile::TempDir> {
    let source = match source() {
        Ok(dir) => dir,
        Err(why) if std::env::var_os("CI").is_none() => {
            eprintln!("SKIPPED: {why}");
            return None;
        }
        Err(why) => panic!("{why}"),
    };
    let work = tempfile::tempdir().expect("temp dir");
    copy_dir(&source, work.path());
    let tests = work.path().join("tests");
    std::fs::write(tests.join("__init__.py"), "").expect("write");
    std::fs::write(tests.join("common.py"), COMMON_PY).expect("write");
    std::fs::write(tests.join("conftest.py"), CONFTEST_PY).expect("write");
    Some(work)
}

/// Runs pytest on `tests` of the suite in `work` against `agent`, with no token in the
/// environment: whether it passed, and what it printed.
pub fn pytest(work: &Path, agent: &Agent, tests: &[&str]) -> (bool, String) {
    let run = Command::new(python())
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf"])
        .args(tests)
        .current_dir(work)
        .env("PYTHONPATH", work)
        .env("NOMAD_IP", "127.0.0.1")
        .env("NOMAD_PORT", agent.port.to_string())
        .env("NOMAD_VERSION", "1.9.0")
        .env_remove("NOMAD_TOKEN")
        .env_remove("NOMAD_ADDR")
        .output()
        .expect("run pytest");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    (run.status.success(), out)
}

/// The parameterized batch job python-nomad's repository keeps beside its tests (its
/// release leaves it out): `example-batch`, which needs the meta key `time` when it is
/// dispatched. Written here with raw_exec instead of upstream's docker task, so the
/// dispatched jobs run on a dev agent.
const EXAMPLE_BATCH_PARAMETERIZED_JSON: &str = r#"{
  "Job": {
    "ID": "example-batch",
    "Name": "example-batch",
    "Type": "batch",
    "Priority": 100,
    "Datacenters": ["dc1"],
    "ParameterizedJob": {
      "Payload": "optional",
      "MetaRequired": ["time"],
      "MetaOptional": []
    },
    "TaskGroups": [{
      "Name": "example-task-group",
      "Count": 0,
      "Tasks": [{
        "Name": "example-task",
        "Driver": "raw_exec",
        "Config": {"command": "/bin/sleep", "args": ["${NOMAD_META_TIME}"]},
        "Resources": {"CPU": 100, "MemoryMB": 200},
        "LogConfig": {"MaxFiles": 10, "MaxFileSizeMB": 10}
      }],
      "RestartPolicy": {
        "Interval": 600000000000,
        "Attempts": 10,
        "Delay": 30000000000,
        "Mode": "delay"
      }
    }]
  }
}
"#;

/// Writes the job files python-nomad's tests read from the suite's root, the way its
/// CI makes them: `example.nomad` from `job init`, `example.json` from
/// `job run -output example.nomad`, and `example_batch_parameterized.json`.
pub fn write_job_fixtures(work: &Path, agent: &Agent) {
    let init = agent.cli(&["job", "init"], work);
    assert!(init.status.success(), "job init: {init:?}");
    let json = agent.cli(&["job", "run", "-output", "example.nomad"], work);
    assert!(json.status.success(), "job run -output: {json:?}");
    std::fs::write(work.join("example.json"), &json.stdout).expect("write example.json");
    std::fs::write(
        work.join("example_batch_parameterized.json"),
        EXAMPLE_BATCH_PARAMETERIZED_JSON,
    )
    .expect("write example_batch_parameterized.json");
}

/// What one pytest run counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    /// The `tests/file.py::test_name` of each failed test.
    pub failures: Vec<String>,
}

/// Reads pytest's `-rf` summary: its `FAILED tests/x.py::name - ...` lines and the last
/// line's `N failed, N passed, N skipped`.
pub fn tally(out: &str) -> Tally {
    let mut tally = Tally::default();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("FAILED ") {
            let name = rest.split(" - ").next().unwrap_or(rest).trim();
            tally.failures.push(name.to_string());
        }
    }
    if let Some(summary) = out
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && l.contains("passed"))
    {
        for part in summary.split(',') {
            let mut words = part.split_whitespace();
            let (Some(count), Some(what)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<usize>() else {
                continue;
            };
            match what {
                "passed" => tally.passed = count,
                "failed" => tally.failed = count,
                "skipped" => tally.skipped = count,
                _ => {}
            }
        }
    }
    tally
}
