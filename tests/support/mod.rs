//! Shared helpers for integration tests: reaching the real Docker Engine and
//! registry that `scripts/test-env` starts, unique names, and temporary build
//! contexts. Include with `mod support;` from a test file.
//!
//! A test that needs Docker starts with
//! `let Some(engine) = support::docker_or_skip("my_test") else { return };`.
//! Without an engine it prints a loud `SKIPPED (no Docker Engine): …` line,
//! unless `CI` is set: then it panics, so CI cannot pass with skipped tests.
#![allow(dead_code)]

pub mod home;
pub mod relay;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The base image `scripts/test-env` imports (busybox with its applets).
pub const BASE_IMAGE: &str = "busybox:test";

/// The registry `scripts/test-env` starts.
pub const REGISTRY: &str = "127.0.0.1:5000";

/// Where a Docker Engine answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerEndpoint {
    Unix(PathBuf),
    Tcp(String),
}

impl DockerEndpoint {
    /// The endpoint as a `DOCKER_HOST` value.
    pub fn docker_host(&self) -> String {
        match self {
            DockerEndpoint::Unix(p) => format!("unix://{}", p.display()),
            DockerEndpoint::Tcp(a) => format!("tcp://{a}"),
        }
    }

    /// A bollard client for the Engine API on this endpoint.
    pub fn bollard(&self) -> bollard::Docker {
        let conn = match self {
            DockerEndpoint::Unix(p) => bollard::Docker::connect_with_unix(
                &p.to_string_lossy(),
                120,
                bollard::API_DEFAULT_VERSION,
            ),
            DockerEndpoint::Tcp(a) => {
                bollard::Docker::connect_with_http(a, 120, bollard::API_DEFAULT_VERSION)
            }
        };
        match conn {
            Ok(d) => d,
            Err(e) => panic!("docker answered /_ping at {self:?} but bollard cannot connect: {e}"),
        }
    }
}

/// The endpoint `DOCKER_HOST` names, or the default socket.
pub fn docker_endpoint() -> DockerEndpoint {
    match std::env::var("DOCKER_HOST") {
        Ok(h) if h.starts_with("unix://") => DockerEndpoint::Unix(PathBuf::from(&h[7..])),
        Ok(h) if h.starts_with("tcp://") => {
            DockerEndpoint::Tcp(h[6..].trim_end_matches('/').to_string())
        }
        _ => DockerEndpoint::Unix(PathBuf::from("/var/run/docker.sock")),
    }
}

/// GET `path` with plain HTTP/1.0 on a stream; returns the status line and body.
fn http_get<S: Read + Write>(
    mut s: S,
    host: &str,
    path: &str,
) -> std::io::Result<(String, String)> {
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let status = buf.lines().next().unwrap_or_default().to_string();
    let body = buf
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// Whether the engine at `ep` answers `/_ping` with `OK` (within 5 s).
pub fn engine_answers(ep: &DockerEndpoint) -> Result<(), String> {
    let timeout = Some(Duration::from_secs(5));
    let res = match ep {
        DockerEndpoint::Unix(p) => std::os::unix::net::UnixStream::connect(p).and_then(|s| {
            s.set_read_timeout(timeout)?;
            http_get(s, "docker", "/_ping")
        }),
        DockerEndpoint::Tcp(a) => std::net::TcpStream::connect(a).and_then(|s| {
            s.set_read_timeout(timeout)?;
            http_get(s, a, "/_ping")
        }),
    };
    match res {
        Ok((_, body)) if body.trim() == "OK" => Ok(()),
        Ok((status, body)) => Err(format!(
            "{} answered {status:?} {body:?} to /_ping",
            ep.docker_host()
        )),
        Err(e) => Err(format!("{}: {e}", ep.docker_host())),
    }
}

/// The Docker Engine, or `None` after a loud skip notice. Panics when `CI`
/// is set: CI runs `scripts/test-env` and must run every Docker test.
pub fn docker_or_skip(test: &str) -> Option<DockerEndpoint> {
    let ep = docker_endpoint();
    match engine_answers(&ep) {
        Ok(()) => Some(ep),
        Err(reason) => skip_or_fail(test, "no Docker Engine", &reason),
    }
}

/// What the tests need to know about the engine they run against: the
/// suites run on Debian 12's Engine 20.10 (BuildKit 0.8) and on Debian 13's
/// Engine 26 (BuildKit 0.13) with and without the containerd image store
/// (`scripts/test-env`; `scripts/test` runs the docker driver's suites once
/// per engine through `DOCKER_HOST`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineFacts {
    /// The engine's major version (20, 26, …).
    pub major: u32,
    /// Whether images live in containerd (`driver-type:
    /// io.containerd.snapshotter.v1` in `/info`'s DriverStatus, as buildx
    /// checks it).
    pub containerd_store: bool,
}

impl EngineFacts {
    /// Whether the engine's BuildKit has the `docker` and `oci` exporters
    /// for builds that are not its own (`--load` through another driver):
    /// only its containerd worker has them (Engine 20.10's BuildKit 0.8 and
    /// Engine 26 on the classic store say `exporter "docker" could not be
    /// found`).
    pub fn buildkit_has_docker_exporter(&self) -> bool {
        self.containerd_store
    }
}

/// Whether the BuildKit behind the relay (the remote, docker-container and
/// kubernetes suites' daemon) has the `docker` exporter: a standalone
/// BuildKit named by `BUILDKIT_LSP_TEST_BUILDKIT` always does, the
/// engine's own only on the containerd store.
pub fn relayed_buildkit_has_docker_exporter(ep: &DockerEndpoint) -> bool {
    relay::buildkit_addr_override().is_some() || engine_facts(ep).buildkit_has_docker_exporter()
}

/// Whether the engine at `ep` can start a privileged container: Engine 20.10
/// here cannot ("unable to apply caps"), Engine 26 in its own mount
/// namespace can.
pub fn privileged_containers_allowed(ep: &DockerEndpoint) -> bool {
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "--privileged", BASE_IMAGE, "true"])
        .env("DOCKER_HOST", ep.docker_host())
        .output()
        .expect("the docker CLI runs");
    out.status.success()
}

/// [`EngineFacts`] of the engine at `ep`, read from `/version` and `/info`.
pub fn engine_facts(ep: &DockerEndpoint) -> EngineFacts {
    let get = |path: &str| -> String {
        let res = match ep {
            DockerEndpoint::Unix(p) => {
                std::os::unix::net::UnixStream::connect(p).and_then(|s| http_get(s, "docker", path))
            }
            DockerEndpoint::Tcp(a) => {
                std::net::TcpStream::connect(a).and_then(|s| http_get(s, a, path))
            }
        };
        match res {
            Ok((_, body)) => body,
            Err(e) => panic!("{} answered /_ping but not {path}: {e}", ep.docker_host()),
        }
    };
    let version: serde_json::Value =
        serde_json::from_str(&get("/version")).expect("/version is JSON");
    let info: serde_json::Value = serde_json::from_str(&get("/info")).expect("/info is JSON");
    let major = version["Version"]
        .as_str()
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse().ok())
        .expect("/version has Version");
    let containerd_store = info["DriverStatus"].as_array().is_some_and(|kvs| {
        kvs.iter().any(|kv| {
            kv[0] == "driver-type" && kv[1].as_str().is_some_and(|v| v.contains("containerd"))
        })
    });
    EngineFacts {
        major,
        containerd_store,
    }
}

/// The test registry at [`REGISTRY`], or `None` after a loud skip notice
/// (a panic under `CI`).
pub fn registry_or_skip(test: &str) -> Option<String> {
    let res = std::net::TcpStream::connect(REGISTRY).and_then(|s| {
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        http_get(s, REGISTRY, "/v2/")
    });
    match res {
        Ok((status, _)) if status.contains(" 200") => Some(REGISTRY.to_string()),
        Ok((status, _)) => skip_or_fail(
            test,
            "no registry",
            &format!("{REGISTRY}/v2/ answered {status:?}"),
        ),
        Err(e) => skip_or_fail(test, "no registry", &format!("{REGISTRY}: {e}")),
    }
}

fn skip_or_fail<T>(test: &str, what: &str, reason: &str) -> Option<T> {
    let msg = format!(
        "SKIPPED ({what}): {test}: {reason}. Run scripts/test-env (as root on Debian) to start it."
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg} CI is set, so skipping is an error.");
    }
    eprintln!("\n!!!!!!!! {msg}\n");
    None
}

/// A name no other test run on this machine uses: `prefix-<pid>-<n>-<nanos>`,
/// lower-case so it is valid as an image name or container name.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{n}-{nanos}",
        prefix.to_ascii_lowercase(),
        std::process::id()
    )
}

/// A temporary build context, removed on drop.
///
/// ```ignore
/// let ctx = TempContext::new()
///     .file("Dockerfile", "FROM scratch\nCOPY a.txt /\n")
///     .file("a.txt", "hello")
///     .file(".dockerignore", "secret.txt\n");
/// ```
pub struct TempContext {
    dir: tempfile::TempDir,
}

impl Default for TempContext {
    fn default() -> Self {
        Self::new()
    }
}

impl TempContext {
    pub fn new() -> TempContext {
        TempContext {
            dir: tempfile::Builder::new()
                .prefix("bklsp-ctx-")
                .tempdir()
                .expect("create a temporary context directory"),
        }
    }

    /// The context directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `rel` (creating parent directories) with `content`.
    pub fn file(self, rel: &str, content: impl AsRef<[u8]>) -> TempContext {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&p, content).expect("write context file");
        self
    }

    /// Creates the directory `rel`.
    pub fn dir(self, rel: &str) -> TempContext {
        std::fs::create_dir_all(self.dir.path().join(rel)).expect("create directory");
        self
    }

    /// Creates a symlink `rel` -> `target`.
    pub fn symlink(self, rel: &str, target: &str) -> TempContext {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::os::unix::fs::symlink(target, p).expect("create symlink");
        self
    }

    /// Sets the modification time of `rel` to `secs` + `nanos` after the epoch.
    pub fn mtime(self, rel: &str, secs: u64, nanos: u32) -> TempContext {
        let t = std::time::UNIX_EPOCH + Duration::new(secs, nanos);
        let f = std::fs::File::options()
            .write(true)
            .open(self.dir.path().join(rel))
            .expect("open for set_modified");
        f.set_modified(t).expect("set mtime");
        self
    }

    /// `count` files of `size` bytes each under `prefix/`, spread over
    /// subdirectories of 100 files (for transfer and rebuild tests).
    pub fn many_files(self, prefix: &str, count: usize, size: usize) -> TempContext {
        let base = self.dir.path().join(prefix);
        let mut content = vec![0u8; size];
        for i in 0..count {
            let sub = base.join(format!("d{:03}", i / 100));
            if i % 100 == 0 {
                std::fs::create_dir_all(&sub).expect("create subdirectory");
            }
            // distinct content per file so no layer can dedupe them
            for (j, b) in content.iter_mut().enumerate().take(16) {
                *b = ((i >> (j % 8)) as u8).wrapping_add(j as u8);
            }
            std::fs::write(sub.join(format!("f{i:05}.bin")), &content).expect("write file");
        }
        self
    }
}

/// Runs the real binary with `home` as `HOME` and its `docker/` folder as the
/// docker config dir, and without the caller's builder selection, so a test
/// never reads or changes the machine's own buildx store.
pub fn cli(home: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .args(args)
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join("docker"))
        .env_remove("BUILDX_CONFIG")
        .env_remove("BUILDX_BUILDER")
        .env_remove("BUILDKIT_HOST")
        .output()
        .expect("the buildkit-lsp binary runs")
}

/// Asserts that a CLI run succeeded; returns its stdout.
pub fn expect_success(args: &[&str], out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Asserts that a CLI run failed with exit code 1; returns its stderr.
pub fn expect_failure(args: &[&str], out: std::process::Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).expect("stderr is UTF-8")
}

/// The stand-in BuildKit image (`scripts/buildkit-test-image`: a `buildctl`
/// that relays `dial-stdio` to the engine's BuildKit) that docker-container
/// builders use in tests, since no `moby/buildkit` image can be pulled here.
pub const STAND_IN_BUILDKIT_IMAGE: &str = "buildkit-relay:test";

/// Builds [`STAND_IN_BUILDKIT_IMAGE`] on `engine` with the docker driver
/// (cached by the engine after the first time).
pub async fn build_stand_in_buildkit_image(engine: &DockerEndpoint) {
    use buildkit_lsp::build::BuildSpec;
    use buildkit_lsp::buildkit::Client;
    use buildkit_lsp::driver::docker::{DockerDriver, DockerEndpoint as Endpoint};
    use buildkit_lsp::driver::Driver;
    let ep = Endpoint::parse(&engine.docker_host()).expect("a docker host URL");
    let driver = DockerDriver::connect_to(ep)
        .await
        .expect("the test engine answers");
    let client = Client::connect(std::sync::Arc::new(driver) as std::sync::Arc<dyn Driver>)
        .await
        .expect("the engine's BuildKit answers");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/buildkit-test-image");
    let mut spec = BuildSpec::new(&dir);
    spec.tags = vec![STAND_IN_BUILDKIT_IMAGE.to_string()];
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    client
        .build(&spec, tx)
        .await
        .expect("the stand-in image builds");
}

/// [`build_stand_in_buildkit_image`] for tests without a runtime of their own.
pub fn build_stand_in_buildkit_image_blocking(engine: &DockerEndpoint) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(build_stand_in_buildkit_image(engine));
}

/// Removes a docker-container builder node's container
/// (`buildx_buildkit_<node>`) and its state volume when dropped, whatever
/// the test did.
pub struct RemoveBuilderContainer(pub String);

impl Drop for RemoveBuilderContainer {
    fn drop(&mut self) {
        let container = format!("buildx_buildkit_{}", self.0);
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", "-v", &container])
            .output();
        let _ = std::process::Command::new("docker")
            .args(["volume", "rm", "-f", &format!("{container}_state")])
            .output();
    }
}
