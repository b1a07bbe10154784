//! What the build insight costs (issue 18):
//!
//! - wall time: the same edit-and-rebuild loop through `builder::run` (the
//!   flow the CLI and the editor use) on the real engine, with the insight on
//!   and off (`BUILDKIT_LSP_INSIGHT=off`), alternating; each build changes one
//!   file of a 2,000-file context, so the file sync sends it, a COPY and the
//!   steps after it run. Plus a cold build of a fresh context (every file
//!   sent and hashed). Target: ≤ 2 % more wall time.
//! - memory: what the server's `Insights` holds for 100 remembered builds of a
//!   30-instruction Dockerfile (20 Dockerfiles × 5 builds), as RSS growth of
//!   this process, and the store file on disk at its bound (32 keys × 5
//!   builds, 1,000 file digests each). Target: ≤ 1 MB per 100 builds.
//!
//! Not a timed test: prints medians. Run with `cargo bench --bench insight`
//! (needs the engine for the wall time; `BENCH_ROUNDS`, default 5).

use std::path::Path;
use std::time::{Duration, Instant};

use buildkit_lsp::build::BuildSpec;
use buildkit_lsp::builder::insight::{record, BuildInsight, Key};
use buildkit_lsp::insight::{Observation, SentFile, VertexRecord};

const FILES: usize = 2_000;
const FILE_SIZE: usize = 4_096;

fn dockerfile(steps: usize) -> String {
    let mut d = String::from("FROM busybox:test\nARG V=1\nWORKDIR /app\n");
    for i in 0..steps {
        d.push_str(&format!(
            "COPY d{:02}/ /app/d{:02}/\nRUN ls /app/d{:02} | wc -l > /n{i}\n",
            i % 20,
            i % 20,
            i % 20
        ));
    }
    d
}

fn make_context(root: &Path, nonce: &str) {
    std::fs::create_dir_all(root).unwrap();
    std::fs::write(root.join("Dockerfile"), dockerfile(8)).unwrap();
    let mut content = vec![b'x'; FILE_SIZE];
    content[..nonce.len()].copy_from_slice(nonce.as_bytes());
    for i in 0..FILES {
        let dir = root.join(format!("d{:02}", i % 20));
        std::fs::create_dir_all(&dir).unwrap();
        content[nonce.len()..nonce.len() + 8].copy_from_slice(&(i as u64).to_le_bytes());
        std::fs::write(dir.join(format!("f{i:05}")), &content).unwrap();
    }
}

async fn build(dir: &Path, insight: bool) -> Duration {
    // SAFETY of the env change: this bench is single-threaded around it (the
    // runtime's workers read it only inside `run`, after it is set).
    unsafe {
        std::env::set_var("BUILDKIT_LSP_INSIGHT", if insight { "on" } else { "off" });
    }
    let group = buildkit_lsp::builder::run::resolve(None).expect("the engine's builder");
    let spec = BuildSpec::new(dir);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let t = Instant::now();
    let r = buildkit_lsp::builder::run::run(spec, &group, tx, Default::default()).await;
    let took = t.elapsed();
    let _ = drain.await;
    r.expect("the build succeeds");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// An observation of the 30-instruction Dockerfile: every step ran, all
/// 2,000 files sent.
fn observation(n: usize) -> Observation {
    let text = dockerfile(13);
    let mut vertices = vec![VertexRecord {
        name: "[1/28] FROM docker.io/library/busybox:test@sha256:457a932c4c7e2e2240bc1fc0969591f52535d621cc43eb236de993e3ba31777e".into(),
        cached: true,
        ..VertexRecord::default()
    }];
    vertices.push(VertexRecord {
        name: "[2/28] WORKDIR /app".into(),
        cached: true,
        ..VertexRecord::default()
    });
    for i in 0..13 {
        let d = i % 20;
        vertices.push(VertexRecord {
            name: format!("[{}/28] COPY d{d:02}/ /app/d{d:02}/", 3 + 2 * i),
            duration: Some(Duration::from_millis(120)),
            ..VertexRecord::default()
        });
        vertices.push(VertexRecord {
            name: format!("[{}/28] RUN ls /app/d{d:02} | wc -l > /n{i}", 4 + 2 * i),
            duration: Some(Duration::from_millis(300)),
            ..VertexRecord::default()
        });
    }
    Observation {
        dockerfile: text,
        vertices,
        sent: (0..FILES)
            .map(|i| SentFile {
                path: format!("d{:02}/f{i:05}", i % 20),
                bytes: FILE_SIZE as u64,
                digest: format!("{:016x}", (i * 7919 + n) as u64),
            })
            .collect(),
        duration: Duration::from_secs(5),
        ok: true,
        ..Observation::default()
    }
}

fn memory_and_disk() {
    let state = tempfile::tempdir().unwrap();
    // The store at its bound: 32 keys × 5 builds.
    let t = Instant::now();
    let mut insights = Vec::new();
    for k in 0..32 {
        for b in 0..5 {
            let key = Key {
                builder: "default".into(),
                dockerfile: format!("/w/p{k}/Dockerfile").into(),
                target: None,
            };
            insights.push(record(state.path(), key, &observation(b), b as u64));
        }
    }
    let per_record = t.elapsed() / 160;
    let store = state.path().join("build-insight.json");
    let disk = std::fs::metadata(&store).map(|m| m.len()).unwrap_or(0);
    println!("store at its bound (32 keys x 5 builds, 1,000 file digests per key): {disk} bytes on disk; explain + read/write store: {per_record:?} per build");

    // The server's memory: 100 builds (the last insight of 20 keys).
    let last: Vec<BuildInsight> = insights
        .into_iter()
        .filter(|i| i.builds.len() == 5)
        .take(20)
        .collect();
    // What `lsp::builds::insight::Insights` keeps per Dockerfile: its key and
    // builds (plus a one-line summary), here the same values in a map.
    let before = rss_kb();
    let held: std::collections::HashMap<String, BuildInsight> = last
        .iter()
        .enumerate()
        .map(|(i, insight)| (format!("file:///w/p{i}/Dockerfile"), insight.clone()))
        .collect();
    drop(last);
    let after = rss_kb();
    println!(
        "server memory for 100 remembered builds (20 Dockerfiles x 5): RSS +{} kB (before {before} kB, after {after} kB)",
        after.saturating_sub(before)
    );
    std::hint::black_box(&held);
}

/// The file sync hashes what it sends whether the insight is on or not
/// (the A/B below cannot see it): its throughput, for the cold build's 8 MB.
fn hashing() {
    use sha2::Digest;
    let data = vec![7u8; FILES * FILE_SIZE];
    let t = Instant::now();
    let mut h = sha2::Sha256::new();
    for chunk in data.chunks(32 * 1024) {
        h.update(chunk);
    }
    std::hint::black_box(h.finalize());
    let took = t.elapsed();
    println!(
        "SHA-256 of {} MB in 32 KiB chunks (the file sync's digests): {took:?} ({:.0} MB/s)",
        data.len() / 1_000_000,
        data.len() as f64 / took.as_secs_f64() / 1e6
    );
}

fn main() {
    hashing();
    memory_and_disk();
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    // SAFETY: set before the runtime runs anything.
    unsafe {
        std::env::set_var("BUILDKIT_LSP_STATE_DIR", &state);
    }
    let nonce = format!("{:x}", std::process::id() as u64 * 1_000_003 + rss_kb());
    let ctx = tmp.path().join("ctx");
    make_context(&ctx, &nonce);
    rt.block_on(async {
        build(&ctx, true).await; // warm: the daemon has the context now
        let mut on = Vec::new();
        let mut off = Vec::new();
        for r in 0..rounds {
            for insight in [r % 2 == 0, r % 2 != 0] {
                // One file of the fifth COPY changes: it and what follows run.
                let f = ctx.join("d04/f00004");
                std::fs::write(&f, format!("{nonce} round {r} {insight}")).unwrap();
                let took = build(&ctx, insight).await;
                if insight { on.push(took) } else { off.push(took) }
            }
        }
        let (on, off) = (median(on), median(off));
        println!(
            "edit-and-rebuild, {FILES}-file context, 8 COPY+RUN pairs ({rounds} rounds, alternating): insight on {on:?}, off {off:?}: {:+.1} %",
            (on.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0
        );
        let mut cold_on = Vec::new();
        let mut cold_off = Vec::new();
        for r in 0..rounds.min(3) {
            for insight in [true, false] {
                let fresh = tmp.path().join(format!("cold{r}{insight}"));
                make_context(&fresh, &format!("{nonce}c{r}{insight}"));
                let took = build(&fresh, insight).await;
                if insight { cold_on.push(took) } else { cold_off.push(took) }
            }
        }
        let (on, off) = (median(cold_on), median(cold_off));
        println!(
            "cold build of a fresh {FILES}-file context (8 MB, every file sent and hashed): insight on {on:?}, off {off:?}: {:+.1} %",
            (on.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0
        );
    });
}
