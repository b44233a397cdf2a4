//! The `java` driver end to end: the client fingerprints its JVM (`driver.java.*`), a
//! Hello-World jar built here with `javac` and `jar` runs isolated as `exec` tasks do,
//! and a jar that is not there fails the task with an event that names it. The jar
//! reaches the task the way a Nomad user could bring one from the host: a read-only
//! host volume mounted at `/jars`. These need root, cgroups and a JDK; elsewhere each
//! test prints `skipping: ...` and passes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use caravan_testkit::{require_exec, skip_if};
use common::*;

const HELLO: &str = r#"public class Hello {
    public static void main(String[] args) {
        System.out.println("Hello from the java driver, args=" + String.join(",", args)
            + ", heap within -Xmx64m=" + (Runtime.getRuntime().maxMemory() <= 64L << 20));
    }
}
"#;

/// Why a jar cannot be built here, if it cannot.
fn jdk_missing() -> Option<String> {
    for tool in ["java", "javac", "jar"] {
        let found = Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!(
                "{tool} is not installed (Debian: default-jdk-headless)"
            ));
        }
    }
    None
}

/// Compiles `Hello` into `dir` (`Hello.class`) and packs `hello.jar` there, with
/// `Hello` as its main class; `dir` becomes readable by the task's user.
fn build_jar(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Hello.java"), HELLO).unwrap();
    let javac = Command::new("javac")
        .arg("Hello.java")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(javac.status.success(), "{}", stderr(&javac));
    let jar = Command::new("jar")
        .args([
            "--create",
            "--file",
            "hello.jar",
            "--main-class",
            "Hello",
            "Hello.class",
        ])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(jar.status.success(), "{}", stderr(&jar));
    for path in [
        dir.to_path_buf(),
        dir.join("hello.jar"),
        dir.join("Hello.class"),
    ] {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// A batch job of one java task with `config_body`, the `jars` host volume at `/jars`.
fn java_job(name: &str, config_body: &str) -> String {
    batch_job_hcl(
        name,
        &format!(
            r#"    reschedule {{
      attempts  = 0
      unlimited = false
    }}
    volume "jars" {{
      type      = "host"
      source    = "jars"
      read_only = true
    }}
    task "hello" {{
      driver = "java"
      volume_mount {{
        volume      = "jars"
        destination = "/jars"
      }}
      config {{
{config_body}
      }}
      resources {{
        memory = 256
      }}
    }}"#
        ),
    )
}

/// Runs a job and returns its allocation once its task is dead.
fn finished_alloc(agent: &DevAgent, work: &Path, name: &str, text: &str) -> String {
    write(work, &format!("{name}.nomad"), text);
    let run = agent.cli(&["job", "run", "-detach", &format!("{name}.nomad")], work);
    assert!(run.status.success(), "{}{}", stdout(&run), stderr(&run));
    let mut alloc_id = String::new();
    agent.eventually("the task to finish", Duration::from_secs(60), || {
        let Some(id) = agent
            .allocations(name)
            .first()
            .and_then(|a| a["ID"].as_str().map(str::to_string))
        else {
            return false;
        };
        alloc_id = id;
        agent.task_state(&alloc_id, "hello")["State"] == "dead"
    });
    alloc_id
}

#[test]
fn a_jar_runs_under_the_java_driver_and_a_missing_one_fails_the_task() {
    require_exec!();
    skip_if!(jdk_missing());
    let jars = tempfile::tempdir().unwrap();
    build_jar(jars.path());
    let agent = DevAgent::with_config(
        &["-dev"],
        &format!(
            "client {{\n  host_volume \"jars\" {{\n    path      = \"{}\"\n    read_only = true\n  }}\n}}\n",
            jars.path().display()
        ),
    );
    agent.wait_for_ready_nodes(1);
    let work = tempfile::tempdir().unwrap();

    // The node offers java, with what `java -version` said.
    let node_id = agent.node_id();
    let out = succeeded(&agent.cli(
        &["node", "status", "-verbose", node_id.as_str()],
        work.path(),
    ));
    assert!(out.contains("driver.java.version"), "{out}");
    assert!(out.contains("driver.java.runtime"), "{out}");
    let java_row = out
        .lines()
        .find(|l| l.starts_with("java "))
        .unwrap_or_default();
    assert!(java_row.contains("true      true"), "{out}");

    // A jar, with JVM options and arguments.
    let alloc_id = finished_alloc(
        &agent,
        work.path(),
        "hello-jar",
        &java_job(
            "hello-jar",
            r#"        jar_path    = "/jars/hello.jar"
        jvm_options = ["-Xmx64m"]
        args        = ["one", "two"]"#,
        ),
    );
    let logs = stdout(&agent.cli(&["alloc", "logs", &alloc_id, "hello"], work.path()));
    assert_eq!(
        logs,
        "Hello from the java driver, args=one,two, heap within -Xmx64m=true\n",
        "stderr: {}",
        stdout(&agent.cli(
            &["alloc", "logs", "-stderr", &alloc_id, "hello"],
            work.path()
        ))
    );
    assert_eq!(agent.task_state(&alloc_id, "hello")["Failed"], false);

    // A class on a class path.
    let alloc_id = finished_alloc(
        &agent,
        work.path(),
        "hello-class",
        &java_job(
            "hello-class",
            r#"        class      = "Hello"
        class_path = "/jars""#,
        ),
    );
    let logs = stdout(&agent.cli(&["alloc", "logs", &alloc_id, "hello"], work.path()));
    assert!(
        logs.starts_with("Hello from the java driver, args=, "),
        "{logs}"
    );

    // A jar that is not there: the task fails with an event that names it.
    let alloc_id = finished_alloc(
        &agent,
        work.path(),
        "no-jar",
        &java_job("no-jar", r#"        jar_path = "/jars/missing.jar""#),
    );
    assert_eq!(agent.task_state(&alloc_id, "hello")["Failed"], true);
    let status = succeeded(&agent.cli(&["alloc", "status", &alloc_id], work.path()));
    assert!(status.contains("Driver Failure"), "{status}");
    assert!(
        status.contains("jar_path \"/jars/missing.jar\": no file at /jars/missing.jar"),
        "{status}"
    );

    // Neither a jar nor a class: Nomad's message.
    let alloc_id = finished_alloc(
        &agent,
        work.path(),
        "no-main",
        &java_job("no-main", r#"        args = ["x"]"#),
    );
    let status = succeeded(&agent.cli(&["alloc", "status", &alloc_id], work.path()));
    assert!(
        status.contains("jar_path or class must be specified"),
        "{status}"
    );
}
