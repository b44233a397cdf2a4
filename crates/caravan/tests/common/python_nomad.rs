//! python-nomad's own test suite, unchanged, run against a Caravan agent: the release
//! `.ci/run` downloads (its tests are in the source release) with the two files the
//! release leaves out, and Debian's Python with pytest, requests, mock and responses.
//! Elsewhere a test using it says what is missing and skips; under `CI` it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
fn python() -> &'static str {
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

/// A copy of python-nomad's source with its test fixtures, or `None` (the test skips,
/// having said why) where `.ci/run` has not prepared it and `CI` is not set.
pub fn workspace() -> Option<tempfile::TempDir> {
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

/// Runs pytest on `tests` (files or `file::test` names) in `work` against the agent on
/// `port`, as python-nomad's CI does (`NOMAD_VERSION` says which tests apply).
pub fn pytest(work: &Path, port: u16, tests: &[&str]) -> (bool, String) {
    let run: Output = Command::new(python())
        .args(["-m", "pytest", "-p", "no:cacheprovider", "-q"])
        .args(tests)
        .current_dir(work)
        .env("PYTHONPATH", work)
        .env("NOMAD_IP", "127.0.0.1")
        .env("NOMAD_PORT", port.to_string())
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
