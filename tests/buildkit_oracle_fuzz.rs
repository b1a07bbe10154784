//! A grammar-based differential fuzzer: generated Dockerfiles (instruction
//! forms, flags, heredocs, escapes, continuations with empty and comment
//! lines, directives, ARG/ENV scopes, ONBUILD, stage references, casing)
//! go to a live BuildKit's lint subrequest and to `buildkit-lsp check`; the
//! answers must agree as in `buildkit_oracle.rs`.
//!
//! Opt-in and bounded:
//! `BUILDKIT_ORACLE_ADDR=tcp://127.0.0.1:PORT BUILDKIT_ORACLE_FUZZ_SECS=1800 cargo test --release --test buildkit_oracle_fuzz -- --ignored --nocapture`
//! (`BUILDKIT_ORACLE_FUZZ_SEED` picks the sequence). Each disagreement is
//! written to `target/oracle-fuzz/` as a Dockerfile with BuildKit's answer
//! and the differences, ready to become a fixture under
//! `tests/fixtures/buildkit-oracle/cases/fuzz/`.

mod oracle;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use oracle::{compare, Recorded};

/// Variable names: defined, undefined, typos of defined ones, secrets,
/// lower and upper case, the platform ARGs.
const VARS: [&str; 14] = [
    "A",
    "B",
    "VERSION",
    "VERSOIN",
    "foo",
    "API_TOKEN",
    "PASSWORD",
    "BASE",
    "PORT",
    "TARGETARCH",
    "TARGETPLATFORM",
    "BUILDPLATFORM",
    "PATH",
    "HOME",
];

struct Gen {
    rng: StdRng,
    escape: char,
    stages: Vec<String>,
}

impl Gen {
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.random_range(0..items.len())]
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn var_name(&mut self) -> &'static str {
        VARS[self.rng.random_range(0..VARS.len())]
    }

    fn var_ref(&mut self) -> String {
        let n = self.var_name();
        match self.rng.random_range(0..6) {
            0 => format!("${{{n}}}"),
            1 => format!("${{{n}:-dflt}}"),
            2 => format!("${{{n}:+set}}"),
            3 => format!("${{{n}-x}}"),
            _ => format!("${n}"),
        }
    }

    fn word(&mut self) -> String {
        if self.chance(0.25) {
            return self.var_ref();
        }
        self.pick(&["a", "/app", "app/", "./src", "x.txt", "*.go", "--", "b c"])
            .to_string()
    }

    fn keyword(&mut self, k: &str) -> String {
        match self.rng.random_range(0..12) {
            0 => k.to_ascii_lowercase(),
            1 => {
                let mut c = k.to_ascii_lowercase();
                c[..1].make_ascii_uppercase();
                c
            }
            _ => k.to_string(),
        }
    }

    fn image(&mut self) -> String {
        if !self.stages.is_empty() && self.chance(0.3) {
            let i = self.rng.random_range(0..self.stages.len());
            return self.stages[i].clone();
        }
        self.pick(&[
            "scratch",
            "alpine",
            "alpine:3.20",
            "busybox:latest",
            "$BASE",
            "${BASE:-alpine}",
            "docker.io/library/debian:12",
            "ghcr.io/acme/tool:1",
            "Alpine",
            "alpine:${VERSION}",
        ])
        .to_string()
    }

    fn json_args(&mut self) -> String {
        let n = self.rng.random_range(0..3);
        let items: Vec<String> = (0..n.max(1))
            .map(|_| {
                let w = self.pick(&["echo", "hi", "/bin/sh", "-c", "$A", "a b"]);
                format!("\"{w}\"")
            })
            .collect();
        format!("[{}]", items.join(", "))
    }

    fn heredoc(&mut self, expand: bool) -> (String, String) {
        let name = self.pick(&["EOF", "END", "FILE"]);
        let open = if expand {
            format!("<<{name}")
        } else if self.chance(0.5) {
            format!("<<'{name}'")
        } else {
            format!("<<-\"{name}\"")
        };
        let body_line = if self.chance(0.5) {
            format!("echo {}", self.var_ref())
        } else {
            "echo hello".to_string()
        };
        (open, format!("{body_line}\n{name}\n"))
    }

    fn kv(&mut self) -> String {
        let k = self.var_name();
        let v = match self.rng.random_range(0..5) {
            0 => self.var_ref(),
            1 => "\"two words\"".to_string(),
            2 => "'$single'".to_string(),
            3 => String::new(),
            _ => "1".to_string(),
        };
        format!("{k}={v}")
    }

    /// One instruction line (without the line break; heredoc bodies follow
    /// after a line break in the second value).
    fn instruction(&mut self, in_onbuild: bool) -> (String, String) {
        let kinds = [
            "RUN",
            "CMD",
            "ENTRYPOINT",
            "ENV",
            "ARG",
            "LABEL",
            "COPY",
            "ADD",
            "WORKDIR",
            "EXPOSE",
            "USER",
            "VOLUME",
            "SHELL",
            "HEALTHCHECK",
            "STOPSIGNAL",
            "MAINTAINER",
            "ONBUILD",
        ];
        let k = self.pick(&kinds);
        let kw = self.keyword(k);
        let mut body = String::new();
        let line = match k {
            "RUN" => match self.rng.random_range(0..8) {
                5 => {
                    let m = self.pick(&[
                        "type=bind,target=/x",
                        "type=cache,target=/c,sharing=locked,id=$A",
                        "type=secret,id=tok",
                        "type=ssh",
                        "type=tmpfs,target=/t,size=10m",
                        "target=/x,from=0",
                        "type=cache,target=${PORT}",
                        "type=bind,source=.,target=/src,rw",
                        "type=cache,mode=0700,uid=1000,target=/c",
                    ]);
                    format!("{kw} --mount={m} true")
                }
                6 => {
                    // Two heredocs on one line.
                    let (o1, b1) = self.heredoc(true);
                    let (o2, b2) = self.heredoc(false);
                    if o1.trim_start_matches(['<', '-', '\'', '"'])
                        == o2.trim_start_matches(['<', '-', '\'', '"'])
                    {
                        body = b1;
                        format!("{kw} {o1}")
                    } else {
                        body = format!("{b1}{b2}");
                        format!("{kw} {o1} {o2}")
                    }
                }
                7 => format!("{kw} [\"unclosed\" {}", self.word()),
                0 => format!("{kw} {}", self.json_args()),
                1 => {
                    let (open, b) = self.heredoc(true);
                    body = b;
                    format!("{kw} {open}")
                }
                2 => format!(
                    "{kw} --mount=type=cache,target=/root/.cache{} echo {}",
                    if self.chance(0.3) { ",from=build" } else { "" },
                    self.var_ref()
                ),
                3 => format!("{kw} --network=none echo hi && {}", self.word()),
                _ => format!("{kw} echo {} > /out", self.word()),
            },
            "CMD" | "ENTRYPOINT" => {
                if self.chance(0.5) {
                    format!("{kw} {}", self.json_args())
                } else {
                    format!("{kw} echo {}", self.word())
                }
            }
            "ENV" | "LABEL" => match self.rng.random_range(0..4) {
                0 => format!("{kw} {} value here", self.var_name()),
                1 => format!("{kw} {} {}", self.kv(), self.kv()),
                _ => format!("{kw} {}", self.kv()),
            },
            "ARG" => {
                if self.chance(0.5) {
                    format!("{kw} {}", self.kv())
                } else {
                    format!("{kw} {}", self.var_name())
                }
            }
            "COPY" | "ADD" => {
                let mut flags = String::new();
                if self.chance(0.2) {
                    if let Some(s) = self.stages.last().cloned() {
                        flags.push_str(&format!(" --from={s}"));
                    } else {
                        flags.push_str(" --from=0");
                    }
                }
                if self.chance(0.2) {
                    flags.push_str(&format!(" --chown={}", self.var_ref()));
                }
                if self.chance(0.1) {
                    flags.push_str(" --chmod=755");
                }
                if self.chance(0.1) {
                    let f = self.pick(&[
                        " --link",
                        " --parents",
                        " --exclude=*.md",
                        " --keep-git-dir",
                        " --checksum=sha256:abc",
                    ]);
                    flags.push_str(f);
                }
                if self.chance(0.2) {
                    let expand = self.chance(0.5);
                    let (open, b) = self.heredoc(expand);
                    body = b;
                    format!("{kw}{flags} {open} /dst")
                } else {
                    format!("{kw}{flags} {} {}", self.word(), self.word())
                }
            }
            "WORKDIR" => {
                if self.chance(0.1) {
                    format!("{kw} ${{{}?must be set}}", self.var_name())
                } else {
                    format!("{kw} {}", self.word())
                }
            }
            "EXPOSE" => {
                let p = self.pick(&[
                    "80",
                    "80/TCP",
                    "8080:80",
                    "53/udp",
                    "$PORT",
                    "127.0.0.1:80:80",
                    "8000-8010",
                    "80/http",
                    "80 443/Udp",
                ]);
                format!("{kw} {p}")
            }
            "USER" => format!("{kw} {}", self.word()),
            "VOLUME" => format!("{kw} {}", self.word()),
            "SHELL" => {
                if self.chance(0.2) {
                    format!("{kw} /bin/sh -c")
                } else {
                    format!("{kw} [\"/bin/sh\", \"-c\"]")
                }
            }
            "HEALTHCHECK" => {
                if self.chance(0.1) {
                    format!("{kw} --interval=5s --timeout=1s --start-period=1s --retries=3 CMD [\"true\"]")
                } else if self.chance(0.3) {
                    format!("{kw} NONE")
                } else {
                    format!("{kw} --interval=5s CMD {}", self.word())
                }
            }
            "STOPSIGNAL" => format!("{kw} SIGTERM"),
            "MAINTAINER" => format!("{kw} someone"),
            _ => {
                if in_onbuild {
                    format!("{kw} ENV x=1")
                } else {
                    let (inner, b) = self.instruction(true);
                    body = b;
                    format!("{kw} {inner}")
                }
            }
        };
        (line, body)
    }

    /// Splits a line at spaces into continuation lines, sometimes with
    /// empty lines or comments inside.
    fn continue_lines(&mut self, line: &str) -> String {
        if !self.chance(0.25) || line.contains("<<") {
            return line.to_string();
        }
        let e = self.escape;
        let mut out = String::new();
        for (i, part) in line.split(' ').enumerate() {
            if i > 0 {
                if self.chance(0.35) {
                    out.push_str(&format!(" {e}\n"));
                    if self.chance(0.2) {
                        out.push('\n');
                    }
                    if self.chance(0.15) {
                        out.push_str("# inside\n");
                    }
                    if self.chance(0.1) {
                        out.push_str("   \n");
                    }
                    out.push_str("  ");
                } else {
                    out.push(' ');
                }
            }
            out.push_str(part);
        }
        out
    }

    fn dockerfile(&mut self) -> String {
        self.stages.clear();
        self.escape = '\\';
        let mut out = String::new();
        if self.chance(0.1) {
            out.push_str("# syntax=docker/dockerfile:1\n");
        }
        if self.chance(0.1) {
            self.escape = '`';
            out.push_str("# escape=`\n");
        }
        if self.chance(0.1) {
            let v = self.pick(&[
                "skip=JSONArgsRecommended",
                "error=true",
                "skip=all",
                "experimental=all",
                "skip=UndefinedVar;error=true",
                "bogus=1",
                "error=maybe",
            ]);
            out.push_str(&format!("# check={v}\n"));
        }
        for _ in 0..self.rng.random_range(0..3) {
            let a = format!("{} {}", self.keyword("ARG"), self.kv());
            out.push_str(&a);
            out.push('\n');
        }
        let stages = self.rng.random_range(1..4);
        for s in 0..stages {
            if self.chance(0.2) {
                out.push_str("# a comment\n");
            }
            if self.chance(0.1) {
                out.push('\n');
            }
            let mut from = format!("{} ", self.keyword("FROM"));
            if self.chance(0.15) {
                let p = self.pick(&[
                    "$BUILDPLATFORM",
                    "linux/amd64",
                    "$TARGETPLATFORM",
                    "${PLATFORM}",
                ]);
                from.push_str(&format!("--platform={p} "));
            }
            from.push_str(&self.image());
            if self.chance(0.6) {
                let name = self.pick(&["build", "Builder", "base", "final", "stage"]);
                let name = format!("{name}{s}");
                let as_kw = self.pick(&["AS", "as", "AS", "As"]);
                from.push_str(&format!(" {as_kw} {name}"));
                self.stages.push(name.to_ascii_lowercase());
            }
            out.push_str(&self.continue_lines(&from));
            out.push('\n');
            for _ in 0..self.rng.random_range(0..6) {
                let (line, body) = self.instruction(false);
                out.push_str(&self.continue_lines(&line));
                out.push('\n');
                out.push_str(&body);
            }
        }
        if self.chance(0.05) {
            out = format!("\u{feff}{out}");
        }
        if self.chance(0.08) {
            out = out.replace('\n', "\r\n");
        }
        if self.chance(0.05) {
            out.pop();
        }
        out
    }
}

#[tokio::test]
#[ignore = "needs a live buildkitd v0.15+: BUILDKIT_ORACLE_ADDR=tcp://127.0.0.1:PORT"]
async fn generated_dockerfiles_agree_with_live_buildkit() {
    let client = oracle::connect().await;
    let version = client
        .info()
        .await
        .expect("Info")
        .map(|v| v.version)
        .unwrap_or_default();
    let secs: u64 = std::env::var("BUILDKIT_ORACLE_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("BUILDKIT_ORACLE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    let out_dir = oracle::repo().join("target/oracle-fuzz");
    std::fs::create_dir_all(&out_dir).expect("target/oracle-fuzz");
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
        escape: '\\',
        stages: Vec::new(),
    };
    let started = Instant::now();
    let deadline = started + Duration::from_secs(secs);
    let (mut cases, mut disagreeing, mut unserved) = (0u64, 0u64, 0u64);
    let mut kinds: std::collections::BTreeMap<String, u64> = Default::default();
    let work = tempfile::tempdir().expect("tempdir");
    while Instant::now() < deadline {
        // A batch: BuildKit one by one, our CLI once for all.
        let mut batch: Vec<(PathBuf, String)> = Vec::new();
        for i in 0..16 {
            let dir = work.path().join(format!("c{i}"));
            std::fs::create_dir_all(&dir).expect("case dir");
            let text = g.dockerfile();
            let path = dir.join("Dockerfile");
            std::fs::write(&path, &text).expect("write case");
            batch.push((path, text));
        }
        let paths: Vec<PathBuf> = batch.iter().map(|(p, _)| p.clone()).collect();
        let ours = oracle::ours(&paths);
        for (path, text) in &batch {
            let answer = oracle::ask(&client, path).await;
            if oracle::tried_to_pull(&answer) {
                // The harness did not serve an image this file names: not
                // a comparison (counted, and kept for a look).
                unserved += 1;
                let _ = std::fs::write(
                    out_dir.join(format!("unserved-{unserved}.Dockerfile")),
                    text,
                );
                continue;
            }
            cases += 1;
            let rec = Recorded::from_answer(path, text.as_bytes(), &answer);
            let diffs = compare(text, &rec, &ours[path]);
            if diffs.is_empty() {
                continue;
            }
            disagreeing += 1;
            for d in &diffs {
                // Group by the shape of the difference (rule and wording).
                let key: String = d
                    .split(['"', '\''])
                    .step_by(2)
                    .collect::<Vec<_>>()
                    .join("…")
                    .chars()
                    .filter(|c| !c.is_ascii_digit())
                    .collect();
                *kinds.entry(key).or_default() += 1;
            }
            let name = format!("case-{}", &oracle::sha256(text.as_bytes())[..12]);
            let _ = std::fs::write(out_dir.join(format!("{name}.Dockerfile")), text);
            let report = serde_json::json!({ "buildkit": rec, "differences": diffs });
            let _ = std::fs::write(
                out_dir.join(format!("{name}.json")),
                serde_json::to_string_pretty(&report).unwrap_or_default(),
            );
        }
    }
    let elapsed = started.elapsed().as_secs();
    let summary = serde_json::json!({
        "buildkit": version,
        "seed": seed,
        "cases": cases,
        "seconds": elapsed,
        "disagreeing_cases": disagreeing,
        "unserved_images": unserved,
        "kinds": kinds,
        "date": oracle::today(),
    });
    let _ = std::fs::write(
        out_dir.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    assert_eq!(
        disagreeing, 0,
        "{disagreeing} of {cases} generated Dockerfiles disagree with BuildKit {version}; see target/oracle-fuzz/"
    );
}
