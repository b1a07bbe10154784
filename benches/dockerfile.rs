//! Parse + semantic model + all build checks on a generated 5,000-line
//! multi-stage Dockerfile (the target: median under 2 ms). The
//! checks take the model, as in the language server, which builds it once
//! per edit for the checks and the builder findings.

use std::hint::black_box;

use buildkit_lsp::dockerfile::{checks, incremental, parse, Model};
use criterion::{criterion_group, BatchSize, Criterion};

/// A realistic mix: global ARGs, 250 stages of 20 lines each with ARG/ENV,
/// continuations, mounts, heredocs, COPY --from and JSON/shell forms.
fn generate(lines: usize) -> String {
    let mut s = String::from("# syntax=docker/dockerfile:1\nARG BASE=alpine\nARG VERSION=3.20\n");
    let mut stage = 0;
    while s.lines().count() < lines {
        let from = if stage == 0 {
            "${BASE}:${VERSION}".to_string()
        } else {
            format!("s{}", stage - 1)
        };
        s.push_str(&format!(
            "FROM --platform=$BUILDPLATFORM {from} AS s{stage}\n\
ARG VERSION\n\
ARG TARGETARCH\n\
ENV APP_HOME=/srv/app{stage} \\\n    PATH=/srv/app{stage}/bin:$PATH\n\
WORKDIR $APP_HOME\n\
COPY --chown=1000:1000 --chmod=755 src/ ./src/\n\
RUN --mount=type=cache,target=/root/.cache \\\n    apk add --no-cache curl git \\\n    && echo \"building $VERSION for $TARGETARCH\"\n\
RUN <<EOF\nset -e\necho stage {stage}\nEOF\n\
LABEL org.opencontainers.image.version=\"$VERSION\" stage={stage}\n\
EXPOSE 80{n}/tcp\n\
USER app\n\
CMD [\"/srv/app/bin/run\", \"--stage\", \"{stage}\"]\n\n",
            n = stage % 10
        ));
        if stage > 0 {
            s.push_str(&format!("COPY --from=s{} /out /in\n", stage - 1));
        }
        stage += 1;
    }
    s
}

fn bench(c: &mut Criterion) {
    let text = generate(5_000);
    let opts = checks::CheckOptions::default();
    c.bench_function("parse_5000_lines", |b| b.iter(|| parse(black_box(&text))));
    let parsed = parse(&text);
    c.bench_function("model_5000_lines", |b| {
        b.iter(|| Model::build(black_box(&parsed)).references.len())
    });
    let model = Model::build(&parsed);
    c.bench_function("checks_5000_lines", |b| {
        b.iter(|| checks::run_with_model(black_box(&parsed), &model, &opts).len())
    });
    // One character typed in the middle of the file, re-parsed from the
    // previous tree (what the language server does per keystroke); the
    // tree given up is cloned outside the timing.
    let mid = text.len() / 2 + text[text.len() / 2..].find("ENV APP_HOME=").unwrap_or(0) + 13;
    let typed = format!("{}x{}", &text[..mid], &text[mid..]);
    c.bench_function("reparse_one_char_5000_lines", |b| {
        b.iter_batched(
            || parsed.clone(),
            |old| incremental::reparse(old, black_box(&typed)),
            BatchSize::LargeInput,
        )
    });
    c.bench_function("parse_model_checks_5000_lines", |b| {
        b.iter(|| {
            let df = parse(black_box(&text));
            let model = Model::build(&df);
            let findings = checks::run_with_model(&df, &model, &opts);
            (model.stages.len(), findings.len())
        })
    });
}

criterion_group!(benches, bench);

/// `DOCKERFILE_BENCH_ITERS=N` runs parse + model + checks exactly N times and
/// exits, so `perf stat -e instructions` / `valgrind --tool=callgrind` count
/// a fixed amount of work (wall times on a shared machine are too noisy to
/// judge small changes). `DOCKERFILE_BENCH_PHASE=parse|model|checks` limits
/// the loop to one phase.
fn fixed_iterations(iters: usize) {
    let text = generate(5_000);
    let opts = checks::CheckOptions::default();
    let phase = std::env::var("DOCKERFILE_BENCH_PHASE").unwrap_or_default();
    let parsed = parse(&text);
    let model = Model::build(&parsed);
    let mut sink = 0usize;
    for _ in 0..iters {
        sink += match phase.as_str() {
            "parse" => parse(black_box(&text)).instructions.len(),
            "model" => Model::build(black_box(&parsed)).references.len(),
            "checks" => checks::run_with_model(black_box(&parsed), &model, &opts).len(),
            _ => {
                let df = parse(black_box(&text));
                let model = Model::build(&df);
                model.stages.len() + checks::run_with_model(&df, &model, &opts).len()
            }
        };
    }
    println!("{sink}");
}

fn main() {
    if let Some(iters) = std::env::var("DOCKERFILE_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        fixed_iterations(iters);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
