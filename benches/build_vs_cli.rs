//! Build time of this client against `DOCKER_BUILDKIT=1 /usr/bin/docker build`
//! (Debian's 20.10 CLI, which talks to the engine's embedded BuildKit without
//! buildx), same engine, same 20,000-file context, alternating runs:
//!
//! - cold: a fresh context directory with a new nonce file, so neither client
//!   has the daemon's copy of the directory nor a cached COPY layer;
//! - cached: the same directory again, unchanged (everything cached).
//!
//! Not a timed test: prints medians and ratios. Run with
//! `cargo bench --bench build_vs_cli` (needs the engine; `BENCH_ROUNDS`, default 3).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use buildkit_lsp::build::BuildSpec;
use buildkit_lsp::buildkit::Client;
use buildkit_lsp::driver::docker::DockerDriver;

const FILES: usize = 20_000;
const FILE_SIZE: usize = 1_024;
const DOCKER_CLI: &str = "/usr/bin/docker";

fn make_context(root: &Path, nonce: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(root)?;
    std::fs::write(root.join("Dockerfile"), "FROM scratch\nCOPY . /ctx/\n")?;
    std::fs::write(root.join("nonce"), nonce)?;
    let mut content = vec![b'x'; FILE_SIZE];
    for i in 0..FILES {
        let dir = root.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir)?;
        }
        content[..8].copy_from_slice(&(i as u64).to_le_bytes());
        std::fs::write(dir.join(format!("f{i:05}")), &content)?;
    }
    Ok(())
}

async fn ours(dir: &Path, tag: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let driver = DockerDriver::from_env().await.map_err(|e| e.to_string())?;
    let client = Client::connect(Arc::new(driver))
        .await
        .map_err(|e| e.to_string())?;
    let mut spec = BuildSpec::new(dir);
    spec.tags = vec![tag.to_string()];
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    client.build(&spec, tx).await.map_err(|e| e.to_string())?;
    Ok(t.elapsed())
}

fn cli(dir: &Path, tag: &str) -> Result<Duration, String> {
    let t = Instant::now();
    let out = Command::new(DOCKER_CLI)
        .args(["build", "-q", "-t", tag])
        .arg(dir)
        .env("DOCKER_BUILDKIT", "1")
        .output()
        .map_err(|e| format!("{DOCKER_CLI}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "docker build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(t.elapsed())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    if !Path::new(DOCKER_CLI).exists() {
        eprintln!("build_vs_cli: SKIPPED: {DOCKER_CLI} (Debian's docker.io CLI) is missing");
        return;
    }
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("build_vs_cli: cannot start tokio: {e}");
            std::process::exit(2);
        }
    };
    let base = match tempfile::Builder::new().prefix("bkl-bench-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("build_vs_cli: {e}");
            std::process::exit(2);
        }
    };
    let tag = format!("bkl-bench:{}", std::process::id());
    let (mut cold_ours, mut cold_cli, mut warm_ours, mut warm_cli) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let run = |r: Result<Duration, String>| match r {
        Ok(d) => d,
        Err(e) => {
            eprintln!("build_vs_cli: {e}");
            std::process::exit(1);
        }
    };
    for round in 0..rounds {
        let a: PathBuf = base.path().join(format!("ours-{round}"));
        let b: PathBuf = base.path().join(format!("cli-{round}"));
        let nonce = format!("{}-{round}", std::process::id());
        for (dir, who) in [(&a, "ours"), (&b, "cli")] {
            if let Err(e) = make_context(dir, &format!("{nonce}-{who}")) {
                eprintln!("build_vs_cli: writing the context: {e}");
                std::process::exit(2);
            }
        }
        // Alternate which client goes first, so neither always gets the
        // warmer page cache or the quieter machine.
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for who in order {
            if who == 0 {
                cold_ours.push(run(rt.block_on(ours(&a, &tag))));
            } else {
                cold_cli.push(run(cli(&b, &tag)));
            }
        }
        for who in order {
            if who == 0 {
                warm_ours.push(run(rt.block_on(ours(&a, &tag))));
            } else {
                warm_cli.push(run(cli(&b, &tag)));
            }
        }
        eprintln!(
            "round {round}: cold ours {:?} cli {:?}; cached ours {:?} cli {:?}",
            cold_ours[round], cold_cli[round], warm_ours[round], warm_cli[round]
        );
    }
    let report = |name: &str, o: Vec<Duration>, c: Vec<Duration>| {
        let (o, c) = (median(o), median(c));
        println!(
            "{name:>6}: buildkit-lsp {:>8.3} s   docker build {:>8.3} s   ratio (ours/cli) {:.2}",
            o.as_secs_f64(),
            c.as_secs_f64(),
            o.as_secs_f64() / c.as_secs_f64()
        );
    };
    println!("{FILES} files x {FILE_SIZE} B, {rounds} alternating rounds, medians:");
    report("cold", cold_ours, cold_cli);
    report("cached", warm_ours, warm_cli);
    let _ = Command::new(DOCKER_CLI)
        .args(["image", "rm", &tag])
        .output();
}
