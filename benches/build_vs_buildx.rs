//! Wall time of `buildkit-lsp build` against `docker buildx build` (Debian
//! 13's buildx 0.13.1, a real buildx, run as a CLI plugin through a docker
//! config of its own), same builder, same daemon, alternating which goes
//! first, medians. The context: 20,000 files of 4 KiB (~80 MB) in 200
//! folders, `FROM scratch` + `COPY . /ctx/`. Three rows per builder:
//!
//! - cold: a fresh directory whose every file has fresh content, so the
//!   daemon has no copy of it and no cached layer;
//! - unchanged: the same directory built again;
//! - one file changed: one file rewritten, then built again.
//!
//! Each tool builds its own copy of the context (its own directory, so
//! neither reuses the daemon's copy of the other's). Builders: the docker
//! driver of each engine in `BENCH_ENGINES` (default: Engine 26 with and
//! without the containerd store), and a remote builder at `BENCH_REMOTE`
//! (e.g. `tcp://127.0.0.1:12371`; left out when unset), created with
//! `docker buildx create --driver remote` in the shared store, which both
//! tools read. `BENCH_ROUNDS` (default 3).
//!
//! Not a timed test: prints each run, then medians and ratios. Run with
//! `cargo bench --bench build_vs_buildx`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const FILES: usize = 20_000;
const FILE_SIZE: usize = 4_096;
const BUILDX: &str = "/var/lib/buildkit-lsp/trixie/usr/libexec/docker/cli-plugins/docker-buildx";
const DEFAULT_ENGINES: &str =
    "unix:///run/buildkit-lsp/engine26.sock,unix:///run/buildkit-lsp/engine26-classic.sock";

/// Writes (or rewrites) the context: every file starts with `nonce` and
/// its index, so two contexts with different nonces share no content.
fn write_context(root: &Path, nonce: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /ctx/\n")?;
    let mut content = vec![b'x'; FILE_SIZE];
    for i in 0..FILES {
        let dir = root.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir)?;
        }
        let head = format!("{nonce}:{i}\n");
        content[..head.len()].copy_from_slice(head.as_bytes());
        std::fs::write(dir.join(format!("f{i:05}")), &content)?;
    }
    Ok(())
}

/// One tool: how to run a build of a directory.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tool {
    Ours,
    Buildx,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Ours => "buildkit-lsp",
            Tool::Buildx => "buildx",
        }
    }
}

struct Env {
    config: PathBuf,
    docker_host: Option<String>,
    builder: Option<String>,
}

fn build(tool: Tool, env: &Env, dir: &Path, tag: &str) -> Duration {
    let mut cmd = match tool {
        Tool::Ours => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"));
            c.args(["build", "--progress", "quiet"]);
            c
        }
        Tool::Buildx => {
            let mut c = Command::new("docker");
            c.args(["buildx", "build", "-q"]);
            c
        }
    };
    if let Some(b) = &env.builder {
        cmd.args(["--builder", b]);
    }
    cmd.args(["-t", tag]).arg(dir);
    cmd.env("DOCKER_CONFIG", &env.config)
        .env_remove("BUILDX_BUILDER")
        .env_remove("BUILDX_CONFIG")
        .env_remove("BUILDKIT_HOST")
        .env("BUILDX_NO_DEFAULT_ATTESTATIONS", "1");
    match &env.docker_host {
        Some(h) => cmd.env("DOCKER_HOST", h),
        None => cmd.env_remove("DOCKER_HOST"),
    };
    let t = Instant::now();
    let out = cmd.output().expect("the build command runs");
    let took = t.elapsed();
    if !out.status.success() {
        eprintln!(
            "build_vs_buildx: {} failed: {}",
            tool.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(1);
    }
    took
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

/// Medians per (row, tool).
#[derive(Default)]
struct Rows {
    cold: [Vec<Duration>; 2],
    unchanged: [Vec<Duration>; 2],
    one_changed: [Vec<Duration>; 2],
}

fn bench_builder(label: &str, env: &Env, base: &Path, rounds: usize) -> Rows {
    let mut rows = Rows::default();
    let tag = format!("bkl-bench-buildx:{}", std::process::id());
    for round in 0..rounds {
        let nonce = format!("{}-{label}-{round}", std::process::id());
        let dirs = [
            base.join(format!("{label}-ours-{round}")),
            base.join(format!("{label}-buildx-{round}")),
        ];
        for (i, d) in dirs.iter().enumerate() {
            write_context(d, &format!("{nonce}-{i}")).expect("writing the context");
        }
        // Alternate which tool goes first.
        let order = if round % 2 == 0 {
            [Tool::Ours, Tool::Buildx]
        } else {
            [Tool::Buildx, Tool::Ours]
        };
        let idx = |t: Tool| if t == Tool::Ours { 0 } else { 1 };
        for t in order {
            rows.cold[idx(t)].push(build(t, env, &dirs[idx(t)], &tag));
        }
        for t in order {
            rows.unchanged[idx(t)].push(build(t, env, &dirs[idx(t)], &tag));
        }
        for t in order {
            let f = dirs[idx(t)].join("d100/f10000");
            std::fs::write(&f, format!("changed {nonce}")).expect("changing one file");
            rows.one_changed[idx(t)].push(build(t, env, &dirs[idx(t)], &tag));
        }
        eprintln!(
            "{label} round {round}: cold ours {:.2?} buildx {:.2?}; unchanged ours {:.2?} buildx {:.2?}; one changed ours {:.2?} buildx {:.2?}",
            rows.cold[0][round], rows.cold[1][round],
            rows.unchanged[0][round], rows.unchanged[1][round],
            rows.one_changed[0][round], rows.one_changed[1][round],
        );
        for d in &dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
    if env.builder.is_none() {
        let _ = Command::new("docker")
            .args(["image", "rm", &tag])
            .env(
                "DOCKER_HOST",
                env.docker_host.as_deref().unwrap_or_default(),
            )
            .output();
    }
    rows
}

fn main() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    if !Path::new(BUILDX).exists() {
        eprintln!("build_vs_buildx: SKIPPED: {BUILDX} (Debian 13's docker-buildx, installed by scripts/test-env) is missing");
        return;
    }
    let home = tempfile::Builder::new()
        .prefix("bkl-bench-buildx-")
        .tempdir()
        .expect("a temp dir");
    let config = home.path().join("docker");
    std::fs::create_dir_all(config.join("cli-plugins")).expect("cli-plugins");
    std::os::unix::fs::symlink(BUILDX, config.join("cli-plugins/docker-buildx"))
        .expect("the buildx plugin link");
    let engines = std::env::var("BENCH_ENGINES").unwrap_or_else(|_| DEFAULT_ENGINES.into());
    let mut builders: Vec<(String, Env)> = engines
        .split(',')
        .filter(|e| !e.is_empty())
        .map(|e| {
            let label = format!(
                "docker {}",
                e.rsplit('/').next().unwrap_or(e).trim_end_matches(".sock")
            );
            (
                label,
                Env {
                    config: config.clone(),
                    docker_host: Some(e.to_string()),
                    builder: None,
                },
            )
        })
        .collect();
    if let Ok(remote) = std::env::var("BENCH_REMOTE") {
        let name = "bkl-bench-remote";
        let out = Command::new("docker")
            .args([
                "buildx", "create", "--name", name, "--driver", "remote", &remote,
            ])
            .env("DOCKER_CONFIG", &config)
            .output()
            .expect("docker buildx create runs");
        if !out.status.success() {
            eprintln!(
                "build_vs_buildx: buildx create: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::process::exit(1);
        }
        builders.push((
            format!("remote {remote}"),
            Env {
                config: config.clone(),
                docker_host: None,
                builder: Some(name.to_string()),
            },
        ));
    }
    let mut table = Vec::new();
    for (label, env) in &builders {
        let slug: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let rows = bench_builder(&slug, env, home.path(), rounds);
        table.push((label.clone(), rows));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{FILES} files x {FILE_SIZE} B, {rounds} alternating rounds, medians (load average at the end: {})",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!("| builder | row | buildkit-lsp | docker buildx | ratio |");
    println!("| --- | --- | --- | --- | --- |");
    for (label, rows) in &table {
        for (row, v) in [
            ("cold", &rows.cold),
            ("unchanged", &rows.unchanged),
            ("one file changed", &rows.one_changed),
        ] {
            let (o, b) = (median(&v[0]), median(&v[1]));
            println!(
                "| {label} | {row} | {:.2} s | {:.2} s | {:.2}× |",
                o.as_secs_f64(),
                b.as_secs_f64(),
                o.as_secs_f64() / b.as_secs_f64()
            );
        }
    }
}
