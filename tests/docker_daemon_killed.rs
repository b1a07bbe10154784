//! The daemon dies in the middle of a build: the build fails within 5 s with
//! a message that says the connection to the daemon was lost, nothing hangs,
//! and once the daemon is back the next build works.
//!
//! This test starts its own `dockerd` (socket, data-root and exec-root in a
//! temporary directory, no bridge, no iptables) and kills that one, never
//! the shared engine. It needs root and Debian's `docker.io`.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use buildkit_lsp::build::BuildSpec;
use buildkit_lsp::buildkit::{BuildkitError, Client};
use buildkit_lsp::driver::docker::{DockerDriver, DockerEndpoint};
use futures::StreamExt;

struct OwnDaemon {
    child: Child,
    dir: PathBuf,
}

impl OwnDaemon {
    fn socket(dir: &Path) -> PathBuf {
        dir.join("docker.sock")
    }

    /// `exec_root` is per start: a SIGKILLed dockerd leaves containerd
    /// state there that a new containerd chokes on.
    fn start(dir: &Path, exec_root: &str) -> std::io::Result<OwnDaemon> {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(dir.join("dockerd.log"))?;
        let child = Command::new("dockerd")
            .arg(format!("--host=unix://{}", Self::socket(dir).display()))
            .arg(format!("--data-root={}", dir.join("data").display()))
            .arg(format!("--exec-root={}", dir.join(exec_root).display()))
            .arg(format!("--pidfile={}", dir.join("dockerd.pid").display()))
            // Its own bridge: with `--bridge=none` dockerd deletes the
            // host's `docker0`, which belongs to the shared engine.
            .arg(format!("--bridge={}", bridge_name()))
            .args(["--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        Ok(OwnDaemon {
            child,
            dir: dir.to_path_buf(),
        })
    }

    async fn driver(&self) -> Option<DockerDriver> {
        let ep = DockerEndpoint::Unix(Self::socket(&self.dir));
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(d) = DockerDriver::connect_to(ep.clone()).await {
                return Some(d);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SIGTERM lets dockerd stop its containerd too.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
    }
}

impl Drop for OwnDaemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Pids of processes whose command line contains `needle`.
fn pids_with(needle: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| {
                    String::from_utf8_lossy(&c)
                        .replace('\0', " ")
                        .contains(needle)
                })
                .unwrap_or(false)
        })
        .collect()
}

/// A bridge of this test's own (Linux interface names: 15 bytes at most).
fn bridge_name() -> String {
    format!("bkl{}", std::process::id() % 100_000)
}

/// Creates the bridge, and deletes it on drop.
struct Bridge(String);

impl Bridge {
    fn create() -> Option<Bridge> {
        let name = bridge_name();
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        let subnet = format!("10.213.{}.1/24", std::process::id() % 250);
        let created = ok(&["link", "add", &name, "type", "bridge"])
            && ok(&["addr", "add", &subnet, "dev", &name])
            && ok(&["link", "set", &name, "up"]);
        let bridge = Bridge(name);
        created.then_some(bridge)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

/// Unmounts what the killed daemon left mounted under `dir` (its RUN's
/// rootfs, its data-root bind mount), deepest first, so the directory can go.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
        let prefix = self.0.to_string_lossy().into_owned();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = Command::new("umount").args(["-l", p]).status();
        }
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_daemon_fails_the_build_within_5s_and_the_next_build_works() {
    let Some(shared) =
        support::docker_or_skip("killed_daemon_fails_the_build_within_5s_and_the_next_build_works")
    else {
        return;
    };
    if !is_root() || Command::new("dockerd").arg("--version").output().is_err() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: killed_daemon…: needs root and dockerd to start a second engine\n"
        );
        assert!(std::env::var_os("CI").is_none(), "CI must run this test");
        return;
    }
    // Short path: unix socket paths are limited to 108 bytes.
    let tmp = tempfile::Builder::new()
        .prefix("bkd")
        .tempdir_in("/tmp")
        .unwrap();
    let _unmount = Unmount(tmp.path().to_path_buf());
    let Some(_bridge) = Bridge::create() else {
        eprintln!("\n!!!!!!!! SKIPPED: killed_daemon…: cannot create a bridge with `ip link`\n");
        assert!(std::env::var_os("CI").is_none(), "CI must run this test");
        return;
    };
    let mut daemon = OwnDaemon::start(tmp.path(), "exec1").expect("start dockerd");
    let driver = daemon.driver().await.expect("the second dockerd answers");

    // Give it the base image: no registry can be reached.
    let export = shared.bollard().export_image(support::BASE_IMAGE);
    let loaded = driver
        .engine()
        .import_image_stream(
            bollard::query_parameters::ImportImageOptionsBuilder::new()
                .quiet(true)
                .build(),
            export,
            None,
        )
        .collect::<Vec<_>>()
        .await;
    assert!(loaded.iter().all(|r| r.is_ok()), "{loaded:?}");

    let secs = 900 + (std::process::id() % 90);
    let needle = format!("sleep {secs}");
    let ctx = support::TempContext::new()
        .file("Dockerfile", format!("FROM busybox:test\nRUN {needle}\n"));
    // The second daemon has no bridge network.
    let mut spec = BuildSpec::new(ctx.path());
    spec.network = Some("none".into());
    let client = Client::connect(Arc::new(driver)).await.unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let build = tokio::spawn({
        let spec = spec.clone();
        async move { client.build(&spec, tx).await }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while pids_with(&needle).is_empty() {
        assert!(Instant::now() < deadline, "the RUN never started");
        assert!(
            !build.is_finished(),
            "the build ended early: {:?}",
            build.await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    daemon.kill();
    let killed = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(5), build)
        .await
        .expect("the build ended within 5 s of the daemon's death")
        .expect("the build task did not panic");
    let err = result.expect_err("the build failed");
    let msg = err.to_string();
    eprintln!("after {:?}: {msg}", killed.elapsed());
    assert!(
        matches!(
            err,
            BuildkitError::Rpc { .. } | BuildkitError::Transport { .. }
        ),
        "a connection error, not a build failure: {err:?}"
    );
    assert!(
        msg.contains(&format!(
            "unix://{}",
            tmp.path().join("docker.sock").display()
        )),
        "{msg}"
    );
    assert!(msg.contains("Solve"), "{msg}");
    assert!(
        msg.contains("The connection to the daemon was lost")
            || msg.contains("The daemon is not reachable"),
        "{msg}"
    );
    // The orphaned RUN belongs to the killed daemon's containerd: end it.
    for pid in pids_with(&needle) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }

    // Back up: the next build works.
    let mut daemon = OwnDaemon::start(tmp.path(), "exec2").expect("restart dockerd");
    let Some(driver) = daemon.driver().await else {
        let log = std::fs::read_to_string(tmp.path().join("dockerd.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(12).collect();
        panic!(
            "the restarted dockerd does not answer; its log, newest first:\n{}",
            tail.join("\n")
        );
    };
    let client = Client::connect(Arc::new(driver)).await.unwrap();
    let ok_ctx =
        support::TempContext::new().file("Dockerfile", "FROM busybox:test\nRUN echo back\n");
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut ok_spec = BuildSpec::new(ok_ctx.path());
    ok_spec.network = Some("none".into());
    client
        .build(&ok_spec, tx)
        .await
        .expect("the build after the restart works");
    daemon.stop();
}
