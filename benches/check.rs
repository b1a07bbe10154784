//! `check` throughput over a 1,000-file corpus (the target: at least
//! 2,000 files/s). Two measurements:
//! - `parse_only_1000_files_in_memory`: the parser alone, for comparison;
//! - `checks_1000_files_in_memory`: parse + all checks of 1,000 sources on one
//!   thread (the library cost);
//! - `cli_check_1000_files`: the real binary, `buildkit-lsp check DIR` over the
//!   same 1,000 files on disk (discovery, reading, `.dockerignore` lookup,
//!   parallel checking, output, process start).
//!
//! The corpus is generated here (deterministic, no Python needed): varied
//! sizes (3–400 lines), single- and multi-stage files, heredocs, long
//! continuations, mounts, and in about 60% of files 1–3 lint problems.

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use buildkit_lsp::dockerfile::{checks, parse};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

/// A small deterministic PRNG (xorshift), so the corpus is the same each run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const IMAGES: [&str; 6] = [
    "debian:bookworm-slim",
    "alpine:3.20",
    "golang:1.22",
    "node:20-slim",
    "python:3.12-slim",
    "busybox",
];

fn block(r: &mut Rng, stage: &str, k: usize, out: &mut Vec<String>) {
    match r.below(10) {
        0 => {
            out.push("RUN apt-get update \\".into());
            out.push(" && apt-get install -y --no-install-recommends \\".into());
            for p in ["curl", "git", "make", "jq"].iter().take(1 + r.below(4)) {
                out.push(format!("      {p} \\"));
            }
            out.push(" && rm -rf /var/lib/apt/lists/*".into());
        }
        1 => {
            out.push("RUN <<EOF".into());
            out.push("set -eux".into());
            for j in 0..1 + r.below(5) {
                out.push(format!("mkdir -p /opt/{stage}/{k}/{j}"));
            }
            out.push("EOF".into());
            out.push(String::new());
        }
        2 => out.extend([
            format!("COPY <<EOF /etc/{stage}-{k}.conf"),
            format!("name = {stage}"),
            "EOF".into(),
            String::new(),
        ]),
        3 => out.extend([
            "RUN --mount=type=cache,target=/root/.cache \\".into(),
            format!("    go build -o /out/{stage}{k} ./cmd/{stage}{k}"),
        ]),
        4 => out.push(format!("ENV {}_V{k}=val{k}", stage.to_uppercase())),
        5 => out.extend([
            format!("# {stage}: step {k}"),
            format!("COPY --chown=1000:1000 src/{stage}/ /src/{stage}/"),
        ]),
        6 => out.push(format!("LABEL org.example.{stage}.k{k}=\"{k}\"")),
        7 => out.push(format!("ARG {}_ARG{k}=default{k}", stage.to_uppercase())),
        8 => out.push(format!("EXPOSE {}/tcp", 8000 + k)),
        _ => {
            out.push("RUN set -eux; \\".into());
            for j in 0..2 + r.below(8) {
                out.push(format!("    echo line{j}; \\"));
            }
            out.push("    true".into());
        }
    }
}

/// One Dockerfile of about `target` lines.
fn gen_file(r: &mut Rng, target: usize) -> String {
    let mut out: Vec<String> = Vec::new();
    if r.below(3) == 0 {
        out.push("# syntax=docker/dockerfile:1".into());
    }
    for j in 0..r.below(3) {
        out.push(format!("ARG GLOBAL_{j}=v{j}"));
    }
    let stages = if target < 25 || r.below(5) < 2 {
        1
    } else {
        2 + r.below((target / 20).clamp(1, 7))
    };
    let problems = if r.below(5) < 2 { 0 } else { 1 + r.below(3) };
    let per = (target / stages).max(2);
    for i in 0..stages {
        let name = if i + 1 == stages && stages > 1 {
            "final".to_string()
        } else {
            format!("build{i}")
        };
        let start = out.len();
        let kw = if problems > 0 && i == 0 && r.below(3) == 0 {
            "as"
        } else {
            "AS"
        };
        out.push(format!(
            "FROM {} {kw} {name}",
            IMAGES[r.below(IMAGES.len())]
        ));
        out.push(format!("WORKDIR /src/{name}"));
        if i > 0 {
            out.push(format!("COPY --from=build{} /out/ /opt/prev/", i - 1));
        }
        if problems > 0 && i == 0 {
            for _ in 0..problems {
                match r.below(5) {
                    0 => out.push("MAINTAINER Team <team@example.com>".into()),
                    1 => out.push("run echo lower".into()),
                    2 => out.push("WORKDIR app/src".into()),
                    3 => out.extend(["RUN echo a \\".into(), String::new(), "    b".into()]),
                    _ => out.push("ENV LEGACY value".into()),
                }
            }
        }
        let mut k = 0;
        while out.len() - start < per {
            block(r, &name, k, &mut out);
            k += 1;
        }
        if i + 1 == stages {
            out.push(if r.below(3) == 0 {
                "CMD /usr/local/bin/app --serve".into()
            } else {
                "CMD [\"/usr/local/bin/app\"]".into()
            });
        }
    }
    out.join("\n") + "\n"
}

/// 1,000 files, sizes log-uniform-ish between 3 and 400 lines.
fn corpus() -> Vec<String> {
    let mut r = Rng(0x5eed_1234_abcd_0001);
    (0..1000)
        .map(|_| {
            let exp = (r.below(1000) as f64) / 1000.0;
            let target = (3.0 * (400.0f64 / 3.0).powf(exp)) as usize;
            gen_file(&mut r, target)
        })
        .collect()
}

fn write_corpus(dir: &Path, files: &[String]) {
    for (i, text) in files.iter().enumerate() {
        let p = dir.join(format!("{i:04}.Dockerfile"));
        if let Err(e) = std::fs::write(&p, text) {
            panic!("cannot write {}: {e}", p.display());
        }
    }
}

fn bench(c: &mut Criterion) {
    let files = corpus();
    let lines: usize = files.iter().map(|f| f.lines().count()).sum();
    eprintln!("corpus: {} files, {lines} lines", files.len());
    let opts = checks::CheckOptions::default();

    let mut g = c.benchmark_group("check");
    g.throughput(Throughput::Elements(files.len() as u64));
    g.bench_function("parse_only_1000_files_in_memory", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|t| parse(black_box(t)).instructions.len())
                .sum::<usize>()
        })
    });
    g.bench_function("checks_1000_files_in_memory", |b| {
        b.iter(|| {
            let mut n = 0;
            for text in &files {
                let df = parse(black_box(text));
                n += checks::run(&df, &opts).len();
            }
            n
        })
    });

    let dir = tempfile::tempdir().expect("tempdir");
    write_corpus(dir.path(), &files);
    let exe = env!("CARGO_BIN_EXE_buildkit-lsp");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("cli_check_1000_files", |b| {
        b.iter(|| {
            let out = Command::new(exe)
                .args(["check", "--format", "json"])
                .arg(dir.path())
                .output()
                .expect("run buildkit-lsp check");
            assert_eq!(out.status.code(), Some(1), "the corpus has findings");
            out.stdout.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
