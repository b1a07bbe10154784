//! The differential harness against BuildKit: which Dockerfiles are
//! compared, BuildKit's recorded answers for them, our own findings (the
//! real `buildkit-lsp check --format json`), and the comparison itself.
//! Used by `buildkit_oracle.rs` (recordings, live daemon) and
//! `buildkit_oracle_fuzz.rs` (generated files, live daemon).
//!
//! What "agree" means (docs/checks.md, "Held against BuildKit"):
//! - the same rule findings: rule name, message word for word, start line;
//!   our range ends no later than BuildKit's last line (BuildKit gives
//!   whole lines, we give the exact words);
//! - when BuildKit stops with an error, we report an error with the same
//!   message (and the same start line when BuildKit gives one), the
//!   warnings it found before stopping are among ours, and without a
//!   BuildKit error we report none;
//! - hints (unknown rule names in `# check=`) are ours only;
//! - what depends on the base image, which BuildKit pulls and we do not
//!   see, is set aside: InvalidBaseImagePlatform, and UndefinedVar of an
//!   upper-case name in a stage built on an image (the stub image defines
//!   only PATH, a real one more).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use buildkit_lsp::buildkit::oracle::LintAnswer;
use buildkit_lsp::buildkit::Client;
use buildkit_lsp::dockerfile::model::{Model, StageRefKind};
use buildkit_lsp::dockerfile::parse;
use buildkit_lsp::driver::remote::RemoteDriver;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The environment variable naming the live daemon (`tcp://127.0.0.1:PORT`).
pub const ADDR_VAR: &str = "BUILDKIT_ORACLE_ADDR";
/// Set to rewrite the recordings from the live daemon.
pub const RECORD_VAR: &str = "BUILDKIT_ORACLE_RECORD";
/// Where the stub base image is served from (`scripts/test-env`'s registry;
/// built from `tests/fixtures/buildkit-oracle/stub-image/Dockerfile`:
/// busybox:test with BuildKit's default PATH).
pub const STUB_IMAGE_VAR: &str = "BUILDKIT_ORACLE_IMAGE";
pub const STUB_IMAGE: &str = "127.0.0.1:5000/oracle/stub:1";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn oracle_dir() -> PathBuf {
    repo().join("tests/fixtures/buildkit-oracle")
}

/// Every Dockerfile fixture of the repository, repository-relative, sorted.
pub fn fixtures() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for root in [
        "tests/fixtures/corpus",
        "tests/fixtures/checks",
        "tests/fixtures/bake",
        "tests/fixtures/buildkit-oracle/cases",
        "tests/e2e/fixtures",
        "examples",
    ] {
        walk(&repo().join(root), &mut out);
    }
    let mut rel: Vec<PathBuf> = out
        .into_iter()
        .filter_map(|p| p.strip_prefix(repo()).ok().map(Path::to_path_buf))
        .collect();
    rel.sort();
    rel
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if p.is_dir() {
            if name != "node_modules" && name != "answers" {
                walk(&p, out);
            }
        } else if name == "Dockerfile" || name.ends_with(".Dockerfile") {
            out.push(p);
        }
    }
}

/// The recording of one fixture: `answers/<path with / as __>.json`.
pub fn answer_path(fixture: &Path) -> PathBuf {
    let slug = fixture.to_string_lossy().replace('/', "__");
    oracle_dir().join("answers").join(format!("{slug}.json"))
}

/// BuildKit's answer as recorded: its findings with their line ranges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// The fixture the answer is for, and the SHA-256 of its bytes (a
    /// changed fixture needs a new recording).
    pub fixture: String,
    pub sha256: String,
    pub warnings: Vec<RecordedWarning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_error: Option<RecordedError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedWarning {
    pub rule: String,
    pub message: String,
    /// `[start line, start column, end line, end column]` per range,
    /// 1-based lines as BuildKit gives them (columns 0 when BuildKit gives
    /// none).
    pub ranges: Vec<[i32; 4]>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedError {
    pub message: String,
    pub ranges: Vec<[i32; 4]>,
}

fn ranges(loc: &buildkit_lsp::buildkit::oracle::LintLocation) -> Vec<[i32; 4]> {
    loc.ranges
        .iter()
        .map(|r| [r.start.line, r.start.character, r.end.line, r.end.character])
        .collect()
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Recorded {
    pub fn from_answer(fixture: &Path, bytes: &[u8], a: &LintAnswer) -> Recorded {
        let mut warnings: Vec<RecordedWarning> = a
            .warnings
            .iter()
            .map(|w| RecordedWarning {
                rule: w.rule_name.clone(),
                message: w.detail.clone(),
                ranges: ranges(&w.location),
            })
            .collect();
        warnings.sort_by(|a, b| {
            (&a.ranges, &a.rule, &a.message).cmp(&(&b.ranges, &b.rule, &b.message))
        });
        Recorded {
            fixture: fixture.to_string_lossy().into_owned(),
            sha256: sha256(bytes),
            warnings,
            build_error: a.build_error.as_ref().map(|e| RecordedError {
                message: e.message.clone(),
                ranges: ranges(&e.location),
            }),
        }
    }
}

/// One of our findings, from `check --format json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ours {
    pub rule: Option<String>,
    pub severity: String,
    pub message: String,
    /// 1-based, inclusive.
    pub start_line: i32,
    pub end_line: i32,
}

/// Runs the real CLI on `files` (absolute or relative to the repository)
/// and returns each file's findings, keyed as given.
pub fn ours(files: &[PathBuf]) -> BTreeMap<PathBuf, Vec<Ours>> {
    let mut out: BTreeMap<PathBuf, Vec<Ours>> =
        files.iter().map(|f| (f.clone(), Vec::new())).collect();
    for chunk in files.chunks(500) {
        // `BUILDKIT_ORACLE_BIN` pins a copy of the binary, so a long fuzz
        // run is not affected by rebuilds meanwhile.
        let bin = std::env::var_os("BUILDKIT_ORACLE_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_buildkit-lsp")));
        let o = std::process::Command::new(bin)
            .current_dir(repo())
            .args(["check", "--format", "json", "--"])
            .args(chunk)
            .output()
            .expect("run buildkit-lsp check");
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "check failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("check's JSON");
        for f in v.as_array().expect("a JSON array") {
            let file = PathBuf::from(f["file"].as_str().unwrap_or_default());
            let start = f["range"]["start"]["line"].as_i64().unwrap_or(0) as i32;
            let mut end = f["range"]["end"]["line"].as_i64().unwrap_or(0) as i32;
            // A span that ends with a line break ends on the line before.
            if end > start && f["range"]["end"]["character"].as_i64() == Some(0) {
                end -= 1;
            }
            out.entry(file).or_default().push(Ours {
                rule: f["rule"].as_str().map(str::to_string),
                severity: f["severity"].as_str().unwrap_or_default().to_string(),
                message: f["message"].as_str().unwrap_or_default().to_string(),
                start_line: start + 1,
                end_line: end + 1,
            });
        }
    }
    out
}

/// Whether a BuildKit finding depends on the base image's configuration,
/// which the stub image (and an offline check) cannot reproduce.
fn base_image_dependent(text: &str, w: &RecordedWarning) -> bool {
    if w.rule == "InvalidBaseImagePlatform" {
        return true;
    }
    // A Windows path is absolute in a Windows stage; the stub image is Linux.
    if w.rule == "WorkdirRelativePath" {
        let b = w.message.as_bytes();
        return b.len() > 20 && b[18].is_ascii_alphabetic() && b[19] == b':';
    }
    if w.rule != "UndefinedVar" || w.message.contains("did you mean") {
        return false;
    }
    let name = w
        .message
        .strip_prefix("Usage of undefined variable '$")
        .and_then(|s| s.strip_suffix('\''))
        .unwrap_or("");
    if name.is_empty() || name.chars().any(|c| c.is_ascii_lowercase()) {
        return false;
    }
    let Some(line) = w.ranges.first().map(|r| r[0]) else {
        return false;
    };
    let df = parse(text);
    let model = Model::build(&df);
    let offset = df
        .source
        .split_inclusive('\n')
        .take((line - 1).max(0) as usize)
        .map(str::len)
        .sum::<usize>();
    let mut stage = model.stage_at(offset);
    // Follow `FROM <stage>` to the stage that names an image.
    let mut hops = 0;
    while let Some(s) = stage {
        match s.parent {
            Some(p) if hops < 64 => {
                stage = model.stages.get(p);
                hops += 1;
            }
            _ => break,
        }
    }
    stage.is_some_and(|s| !s.base.value.eq_ignore_ascii_case("scratch"))
}

/// The disagreements between BuildKit's answer and ours for one file
/// (empty: they agree).
pub fn compare(text: &str, theirs: &Recorded, ours: &[Ours]) -> Vec<String> {
    let mut out = Vec::new();
    let our_errors: Vec<&Ours> = ours
        .iter()
        .filter(|o| o.rule.is_none() && o.severity == "error")
        .collect();
    let mut our_rules: Vec<&Ours> = ours.iter().filter(|o| o.rule.is_some()).collect();

    match &theirs.build_error {
        // `error=true`: BuildKit turns the findings into one build error;
        // ours are the findings themselves, at error severity.
        Some(e) if e.message.starts_with("lint violation found for rules: ") => {
            let mut named: Vec<&str> = e.message["lint violation found for rules: ".len()..]
                .split(", ")
                .collect();
            named.sort_unstable();
            // A rule all of whose BuildKit findings depend on the base image
            // cannot be among ours.
            named.retain(|r| {
                let theirs_r: Vec<&RecordedWarning> =
                    theirs.warnings.iter().filter(|w| w.rule == *r).collect();
                theirs_r.is_empty() || !theirs_r.iter().all(|w| base_image_dependent(text, w))
            });
            let mut ours_failing: Vec<&str> = ours
                .iter()
                .filter(|o| o.severity == "error")
                .filter_map(|o| o.rule.as_deref())
                .collect();
            ours_failing.sort_unstable();
            ours_failing.dedup();
            if named != ours_failing {
                out.push(format!(
                    "BuildKit fails the lint for {named:?}; our error-level findings are for {ours_failing:?}"
                ));
            }
            for o in &our_errors {
                out.push(format!(
                    "we report the error {:?} on line {}; BuildKit's only error is the lint violation",
                    o.message, o.start_line
                ));
            }
        }
        Some(e) => {
            let line = e.ranges.first().map(|r| r[0]);
            let message = without_line_prefix(&e.message, line);
            // BuildKit's parser places a directive error one line early
            // (it wraps the error before counting the line; line 0 when the
            // directive is on line 1): a BuildKit bug, docs/checks.md.
            let directive_bug = message.ends_with("parser directive can be used")
                || message.starts_with("invalid escape token");
            let found = our_errors.iter().any(|o| {
                o.message == message
                    && line.is_none_or(|l| {
                        l == o.start_line || (directive_bug && l + 1 == o.start_line)
                    })
            });
            if !found {
                out.push(format!(
                    "BuildKit stops with {:?}{}; we report {}",
                    e.message,
                    line.map(|l| format!(" on line {l}")).unwrap_or_default(),
                    if our_errors.is_empty() {
                        "no error".to_string()
                    } else {
                        our_errors
                            .iter()
                            .map(|o| format!("{:?} on line {}", o.message, o.start_line))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ));
            }
        }
        None => {
            for o in &our_errors {
                out.push(format!(
                    "we report the error {:?} on line {}; BuildKit builds",
                    o.message, o.start_line
                ));
            }
        }
    }

    for w in &theirs.warnings {
        let start = w.ranges.first().map_or(0, |r| r[0]);
        let end = w.ranges.iter().map(|r| r[2]).max().unwrap_or(start);
        let pos = our_rules.iter().position(|o| {
            o.rule.as_deref() == Some(w.rule.as_str())
                && o.message == w.message
                && o.start_line == start
        });
        match pos {
            Some(i) => {
                let o = our_rules.remove(i);
                if o.end_line > end.max(start) {
                    out.push(format!(
                        "{} {:?}: BuildKit's range is lines {start}-{end}, ours ends on line {}",
                        w.rule, w.message, o.end_line
                    ));
                }
            }
            None if base_image_dependent(text, w) => {}
            None => {
                let near: Vec<String> = our_rules
                    .iter()
                    .filter(|o| o.rule.as_deref() == Some(w.rule.as_str()))
                    .map(|o| format!("{:?} on line {}", o.message, o.start_line))
                    .collect();
                out.push(format!(
                    "BuildKit reports {} {:?} on line {start}; we do not{}",
                    w.rule,
                    w.message,
                    if near.is_empty() {
                        String::new()
                    } else {
                        format!(" (we have {})", near.join(", "))
                    }
                ));
            }
        }
    }
    // With a build error BuildKit stops early: the warnings it did not
    // reach are not a disagreement.
    if theirs.build_error.is_none() {
        for o in our_rules {
            out.push(format!(
                "we report {} {:?} on line {}; BuildKit does not",
                o.rule.as_deref().unwrap_or("-"),
                o.message,
                o.start_line
            ));
        }
    }
    out
}

/// BuildKit's parse errors say `dockerfile parse error on line N: …`; the
/// diagnostic sits on line N, so ours say only the rest (docs/checks.md).
/// The prefix is dropped only when N is where BuildKit's range starts.
fn without_line_prefix(message: &str, line: Option<i32>) -> &str {
    let Some(rest) = message.strip_prefix("dockerfile parse error on line ") else {
        return message;
    };
    let Some((n, tail)) = rest.split_once(": ") else {
        return message;
    };
    match (n.parse::<i32>(), line) {
        (Ok(n), Some(l)) if n == l => tail,
        _ => message,
    }
}

/// The named contexts that serve every image a FROM names from the stub
/// image, so BuildKit needs no network (`context:alpine:3.20=docker-image://…`).
pub fn image_contexts(text: &str, stub: &str) -> BTreeMap<String, String> {
    let df = parse(text);
    let model = Model::build(&df);
    let mut globals: BTreeMap<String, String> = [
        ("TARGETPLATFORM", "linux/amd64"),
        ("TARGETOS", "linux"),
        ("TARGETARCH", "amd64"),
        ("TARGETVARIANT", ""),
        ("BUILDPLATFORM", "linux/amd64"),
        ("BUILDOS", "linux"),
        ("BUILDARCH", "amd64"),
        ("BUILDVARIANT", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let first_from = model
        .stages
        .first()
        .map_or(df.instructions.len(), |s| s.from_instruction);
    for ins in &df.instructions[..first_from] {
        for kv in &ins.key_values {
            let v = kv
                .unquoted_value(df.escape)
                .map(|v| substitute(&v, &globals))
                .unwrap_or_default();
            globals.insert(kv.key.to_string(), v);
        }
    }
    let mut out = BTreeMap::new();
    for s in &model.stages {
        if s.parent.is_some() {
            continue;
        }
        let name = substitute(&s.base.value, &globals);
        if name.is_empty() || name.eq_ignore_ascii_case("scratch") {
            continue;
        }
        out.insert(
            format!("context:{}", familiar(&name)),
            format!("docker-image://{stub}"),
        );
    }
    // `COPY --from=NAME` / `--mount=from=NAME` that names no stage is an image.
    for r in &model.stage_refs {
        let name = substitute(&r.value, &globals);
        if r.target.is_some()
            || name.is_empty()
            || (r.kind == StageRefKind::CopyFrom && name.bytes().all(|b| b.is_ascii_digit()))
            || name.eq_ignore_ascii_case("scratch")
        {
            continue;
        }
        out.insert(
            format!("context:{}", familiar(&name)),
            format!("docker-image://{stub}"),
        );
    }
    out
}

/// `$X`, `${X}`, `${X:-d}`, `${X-d}`, `${X:+a}` against `vars` (enough for
/// image names).
fn substitute(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < b.len() {
        if b[i] == '$' && i + 1 < b.len() {
            if b[i + 1] == '{' {
                if let Some(close) = b[i + 2..].iter().position(|&c| c == '}') {
                    let inner: String = b[i + 2..i + 2 + close].iter().collect();
                    let (name, op, word) = match inner.find([':', '-', '+']) {
                        Some(p) => {
                            let rest = &inner[p..];
                            let (op, word) = if let Some(w) = rest.strip_prefix(":-") {
                                ("-", w)
                            } else if let Some(w) = rest.strip_prefix(":+") {
                                ("+", w)
                            } else if let Some(w) = rest.strip_prefix('-') {
                                ("-", w)
                            } else if let Some(w) = rest.strip_prefix('+') {
                                ("+", w)
                            } else {
                                ("", "")
                            };
                            (&inner[..p], op, word)
                        }
                        None => (inner.as_str(), "", ""),
                    };
                    let v = vars.get(name).cloned().unwrap_or_default();
                    out.push_str(&match op {
                        "-" if v.is_empty() => word.to_string(),
                        "+" if !v.is_empty() => word.to_string(),
                        "+" => String::new(),
                        _ => v,
                    });
                    i += 3 + close;
                    continue;
                }
            } else {
                let n: String = b[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                if !n.is_empty() {
                    out.push_str(vars.get(&n).map(String::as_str).unwrap_or(""));
                    i += 1 + n.chars().count();
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The name BuildKit looks a named context up by: the reference in its
/// short (`FamiliarString`) form without `:latest`.
fn familiar(name: &str) -> String {
    let mut n = name.to_string();
    for prefix in ["docker.io/", "index.docker.io/"] {
        if let Some(rest) = n.strip_prefix(prefix) {
            n = rest.to_string();
        }
    }
    if let Some(rest) = n.strip_prefix("library/") {
        if !rest.contains('/') {
            n = rest.to_string();
        }
    }
    n.strip_suffix(":latest").map(str::to_string).unwrap_or(n)
}

/// A client for the daemon named by [`ADDR_VAR`]; panics with what to do
/// when it is not set (the live tests are `#[ignore]`d, run on purpose).
pub async fn connect() -> Client {
    let addr = std::env::var(ADDR_VAR).unwrap_or_else(|_| {
        panic!("set {ADDR_VAR}=tcp://127.0.0.1:PORT to a buildkitd v0.15+ (see docs/checks.md, \"Held against BuildKit\")")
    });
    let driver = RemoteDriver::new(Some(&addr), &BTreeMap::new()).expect("remote driver");
    Client::connect(Arc::new(driver))
        .await
        .unwrap_or_else(|e| panic!("cannot reach BuildKit at {addr}: {e}"))
}

pub fn stub_image() -> String {
    std::env::var(STUB_IMAGE_VAR).unwrap_or_else(|_| STUB_IMAGE.to_string())
}

/// Asks the daemon about one Dockerfile (its directory is the context).
pub async fn ask(client: &Client, dockerfile: &Path) -> LintAnswer {
    let text = std::fs::read_to_string(dockerfile).unwrap_or_default();
    let attrs = image_contexts(&text, &stub_image());
    client
        .lint(dockerfile, &attrs)
        .await
        .unwrap_or_else(|e| panic!("lint of {} failed: {e}", dockerfile.display()))
}

/// Fails loudly when BuildKit could not get an image: the harness must
/// serve every FROM from the stub (a network pull would be slow and flaky).
pub fn assert_no_pull(fixture: &Path, a: &LintAnswer) {
    assert!(
        !tried_to_pull(a),
        "{}: BuildKit tried to pull an image the harness did not serve: {:?}",
        fixture.display(),
        a.build_error
    );
}

/// Whether BuildKit stopped because it tried to pull an image.
pub fn tried_to_pull(a: &LintAnswer) -> bool {
    a.build_error.as_ref().is_some_and(|e| {
        e.message.contains("failed to resolve source metadata")
            || e.message.contains("failed to do request")
    })
}

/// Today's UTC date, `YYYY-MM-DD` (for the recordings' header).
pub fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    // Howard Hinnant's civil_from_days.
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}
