//! The Docker Engine the `docker` driver's tests run against, and the image they run:
//! built here from the host's static busybox and imported, as no registry is reachable.

use std::path::Path;
use std::process::Command;

/// The image the docker tests run: busybox, imported locally.
pub const TEST_IMAGE: &str = "caravan-test/docker-driver-busybox:1";

/// The busybox applets the test image links (`/bin/<name>` → busybox).
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "httpd", "ls", "dd", "mkdir", "touch", "head", "tail", "env",
    "true", "false", "id", "rm", "wc", "seq", "printf", "test", "grep",
];

/// Why the docker tests cannot run here: no daemon answers, or the image cannot be
/// made. Otherwise makes sure the daemon has [`TEST_IMAGE`] (once across the tests that
/// run in parallel: the check and the import hold a file lock).
pub fn docker_unavailable() -> Option<String> {
    let version = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .output();
    match version {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return Some(format!(
                "no Docker daemon answers on this host: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Err(error) => return Some(format!("the docker CLI cannot run: {error}")),
    }
    import_test_image().err()
}

fn import_test_image() -> Result<(), String> {
    let lock_path = std::env::temp_dir().join("caravan-test-busybox-image.lock");
    let lock = std::fs::File::create(&lock_path).map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    let present = Command::new("docker")
        .args(["image", "inspect", TEST_IMAGE])
        .output()
        .is_ok_and(|out| out.status.success());
    if present {
        return Ok(());
    }
    import_image(TEST_IMAGE)
}

/// Imports a new image tagged `tag` from the static busybox (a new image ID at every
/// import: a test that removes an image gets one no other test's container uses).
pub fn import_image(tag: &str) -> Result<(), String> {
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        return Err(
            "no /bin/busybox to build the test image from (apt-get install busybox-static)".into(),
        );
    }
    // The image has no libc: a dynamically linked busybox would not start in it.
    let binary = std::fs::read(busybox).map_err(|e| e.to_string())?;
    if has_interpreter(&binary) {
        return Err(
            "/bin/busybox is dynamically linked; the test image needs a static one (apt-get install busybox-static)".into(),
        );
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = dir.path().join("rootfs");
    for sub in ["bin", "tmp", "www", "data"] {
        std::fs::create_dir_all(root.join(sub)).map_err(|e| e.to_string())?;
    }
    std::fs::copy(busybox, root.join("bin/busybox")).map_err(|e| e.to_string())?;
    for applet in APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet))
            .map_err(|e| e.to_string())?;
    }
    let tar = dir.path().join("rootfs.tar");
    let tarred = Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(&root)
        .arg(".")
        .status()
        .map_err(|e| e.to_string())?;
    if !tarred.success() {
        return Err("tar of the test image's rootfs failed".into());
    }
    let imported = Command::new("docker")
        .arg("import")
        .arg(&tar)
        .arg(tag)
        .output()
        .map_err(|e| e.to_string())?;
    if !imported.status.success() {
        return Err(format!(
            "docker import of the test image failed: {}",
            String::from_utf8_lossy(&imported.stderr).trim()
        ));
    }
    Ok(())
}

/// Whether an ELF64 binary names a program interpreter (`PT_INTERP`): it is dynamically
/// linked.
fn has_interpreter(elf: &[u8]) -> bool {
    let field = |at: usize, len: usize| -> usize {
        elf.get(at..at + len).map_or(0, |bytes| {
            bytes
                .iter()
                .rev()
                .fold(0usize, |value, byte| (value << 8) | usize::from(*byte))
        })
    };
    if elf.get(..4) != Some(b"\x7fELF") {
        return false;
    }
    let (offset, size, count) = (field(0x20, 8), field(0x36, 2), field(0x38, 2));
    (0..count).any(|i| field(offset + i * size, 4) == 3)
}

/// The IDs of the containers (running or not) labelled with allocation `alloc_id`.
pub fn containers_of_alloc(alloc_id: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args([
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=com.hashicorp.nomad.alloc_id={alloc_id}"),
        ])
        .output();
    match out {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Removes every container of allocation `alloc_id` (a test's cleanup).
pub fn remove_containers_of_alloc(alloc_id: &str) {
    for id in containers_of_alloc(alloc_id) {
        let _ = Command::new("docker").args(["rm", "-f", &id]).output();
    }
}

/// Returns from the test (which passes, saying `skipping: <why>`) where no Docker daemon
/// answers ([`docker_unavailable`]).
#[macro_export]
macro_rules! require_docker {
    () => {
        $crate::skip_if!($crate::docker::docker_unavailable())
    };
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_dynamically_linked_binary_names_its_interpreter() {
        let dynamic = std::fs::read("/bin/sh").expect("/bin/sh");
        assert!(super::has_interpreter(&dynamic));
        assert!(!super::has_interpreter(b"not an ELF file"));
        if let Ok(busybox) = std::fs::read("/bin/busybox") {
            assert!(
                !super::has_interpreter(&busybox),
                "busybox-static is static"
            );
        }
    }
}
