//! Running a browser script (`tests/ui/*.mjs`, Node + playwright-core with Debian's
//! chromium) from a test: finding the tools, the screenshot directory, and a driver
//! process that takes its browser with it. Shared by `ui.rs` and `workshop_web.rs`.

#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Chromium, Node and playwright-core, or why a browser test cannot run here.
pub fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let chromium = std::env::var_os("CARAVAN_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.exists())
        })
        .ok_or(
            "chromium is not installed (apt-get install -y chromium, or set CARAVAN_CHROMIUM)",
        )?;
    let node = Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("node is not installed (apt-get install -y nodejs npm)".into());
    }
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    if !driver
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return Err(format!(
            "playwright-core is not installed (npm ci --prefix {})",
            driver.display()
        ));
    }
    Ok((chromium, driver))
}

/// `target/ui-screenshots`, next to the test binary's `debug` directory.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("ui-screenshots")
}

/// The driver process in a process group of its own, so the browser it started goes
/// with it whatever happens.
pub struct Driver(pub Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-9", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.wait();
    }
}

/// How a browser script ended: its output, and whether it succeeded in time.
pub struct ScriptRun {
    pub output: String,
    /// `None` when it ran past its time and was killed.
    pub success: Option<bool>,
}

/// Runs `node <dir>/<script> <args...>` in its own process group, its output in
/// `log_path`, for at most `timeout`; the browser is gone when this returns.
pub fn run_script(
    dir: &Path,
    script: &str,
    args: &[&std::ffi::OsStr],
    log_path: &Path,
    timeout: Duration,
) -> ScriptRun {
    let log = std::fs::File::create(log_path).expect("driver log");
    let mut driver = Driver(
        Command::new("node")
            .arg(dir.join(script))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start node"),
    );
    let deadline = Instant::now() + timeout;
    let success = loop {
        if let Some(status) = driver.0.try_wait().expect("wait for the driver") {
            break Some(status.success());
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(driver);
    let mut output = String::new();
    let _ = std::fs::File::open(log_path).and_then(|mut f| f.read_to_string(&mut output));
    ScriptRun { output, success }
}
