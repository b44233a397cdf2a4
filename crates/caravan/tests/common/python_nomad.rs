//! python-nomad 2.1.0's own test suite, run unchanged against an agent: `.ci/run`
//! downloads its source release (which carries its tests) into `target/python-nomad`
//! and installs pytest, requests, mock and responses from Debian. Elsewhere a test says
//! what is missing and skips; under `CI` it fails instead.

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

/// Debian's Python, where `.ci/run` installs the modules (a `python3` earlier on the
/// `PATH`, such as pyenv's, would not have them).
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").is_file() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
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
        .args(["-c", "import pytest, requests, mock, responses"])
        .output()
        .map_err(|e| format!("python3 cannot run: {e}"))?;
    if !modules.status.success() {
        return Err(format!(
            "python3 lacks pytest, requests, mock or responses (.ci/run installs them): {}",
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
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q"])
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
