//! Build insight: what each instruction cost in a build, and why a step that
//! ran missed the cache. Pure and synchronous: the builder layer collects
//! what a build reported ([`Observation`]: the vertices of the progress
//! stream, the files the file sync sent, the spec's args) and keeps the
//! previous build's [`Inputs`]; [`explain`] maps vertices to instructions
//! and names each executed step's first cause. The front ends show the
//! result (inlay hints, hover, code lens, `build --explain`).
//!
//! A cause is only named when it is known: context files whose content the
//! daemon asked for again and that differ from the previous build's, a
//! build arg whose value differs, an instruction text that the previous
//! build did not have, a base image digest that differs, an earlier step
//! that ran, `--no-cache`. Otherwise the answer is
//! [`Cause::Unknown`], never a guess (docs/lsp-builds.md has the table).

pub mod anchor;
pub mod history;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::dockerfile::model::DefKind;
use crate::dockerfile::{self, Dockerfile, InstructionKind, Model};
use crate::dockerignore::DockerIgnore;
pub use anchor::Anchor;

/// File digests kept per build key; a larger context keeps the first ones
/// (by path), and a file without a kept digest counts as changed when sent.
pub const MAX_FILE_DIGESTS: usize = 1000;
/// Files named in one cause; the rest are counted.
pub const NAMED_FILES: usize = 3;

/// One vertex as the progress stream reported it, merged over its updates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VertexRecord {
    pub name: String,
    pub cached: bool,
    pub duration: Option<Duration>,
    pub error: Option<String>,
}

/// One context file whose content the file sync sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentFile {
    /// Relative to the context, slash-separated.
    pub path: String,
    pub bytes: u64,
    /// Hex digest of the content sent.
    pub digest: String,
}

/// What a build reported, for [`explain`].
#[derive(Debug, Clone, Default)]
pub struct Observation {
    /// The Dockerfile as it was sent.
    pub dockerfile: String,
    pub build_args: BTreeMap<String, String>,
    pub no_cache: bool,
    /// In the order BuildKit first reported them.
    pub vertices: Vec<VertexRecord>,
    /// Context files sent (the `context` directory only).
    pub sent: Vec<SentFile>,
    pub duration: Duration,
    pub ok: bool,
}

/// What the next build is compared with: per build key (builder,
/// Dockerfile, target).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    /// Context file path → digest of its content when last sent.
    pub files: BTreeMap<String, String>,
    /// `stage/NAME` (`/NAME` for global ARGs) → effective value.
    pub args: BTreeMap<String, String>,
    /// Stage label → the base image digest BuildKit resolved.
    pub bases: BTreeMap<String, String>,
    /// Stage label → normalized text of each instruction.
    pub texts: BTreeMap<String, BTreeSet<String>>,
}

/// Why a step ran instead of coming from the cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "camelCase")]
pub enum Cause {
    /// `--no-cache`.
    NoCache,
    /// The instruction's own text is not in the previous build.
    InstructionChanged,
    /// Build args in scope whose value differs from the previous build.
    BuildArg { names: Vec<String> },
    /// Context files among the instruction's sources that the daemon asked
    /// for again and whose content differs.
    Files { names: Vec<String>, more: usize },
    /// The base image's digest differs from the previous build's.
    BaseImage { from: String, to: String },
    /// An ENV/ARG/USER/SHELL before the step in its stage changed.
    EarlierInstructionChanged { instruction: String },
    /// An earlier step of the stage (or of a stage it uses) ran.
    EarlierStep { step: String },
    /// An earlier step came from the cache, but from an older entry: its
    /// own input changed since the last build (`input`), so its result
    /// differs and this step missed.
    EarlierInput { step: String, input: Box<Cause> },
    /// None of the above is known.
    Unknown,
}

/// What [`Cause::Unknown`] says.
pub const UNKNOWN: &str = "unknown: the daemon did not keep a cache record";

impl Cause {
    /// Short form, for an inlay hint.
    pub fn short(&self) -> String {
        match self {
            Cause::NoCache => "--no-cache".into(),
            Cause::InstructionChanged => "instruction changed".into(),
            Cause::BuildArg { names } => format!("build arg {} changed", names.join(", ")),
            Cause::Files { names, more } => {
                let n = names.len() + more;
                let list = names.join(", ");
                match (n, more) {
                    (1, _) => format!("{list} changed"),
                    (_, 0) => format!("{n} files changed: {list}"),
                    _ => format!("{n} files changed: {list} +{more}"),
                }
            }
            Cause::BaseImage { .. } => "base image changed".into(),
            Cause::EarlierInstructionChanged { instruction } => format!("`{instruction}` changed"),
            Cause::EarlierStep { .. } => "an earlier step ran".into(),
            Cause::EarlierInput { input, .. } => format!("{} before it", input.short()),
            Cause::Unknown => UNKNOWN.into(),
        }
    }

    /// Long form, for the hover and the CLI table.
    pub fn long(&self) -> String {
        match self {
            Cause::BaseImage { from, to } => {
                format!(
                    "base image changed ({} → {})",
                    short_digest(from),
                    short_digest(to)
                )
            }
            Cause::EarlierStep { step } => format!("an earlier step ran ({step})"),
            Cause::EarlierInput { step, input } => {
                format!(
                    "{} for an earlier step ({step}, answered from an older cache entry)",
                    input.short()
                )
            }
            other => other.short(),
        }
    }
}

fn short_digest(d: &str) -> &str {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    &hex[..hex.len().min(12)]
}

/// One instruction's result in one build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    /// BuildKit's step name (`[base 3/6] COPY a.txt /a`).
    pub name: String,
    /// Where the instruction was in the Dockerfile built.
    pub anchor: Anchor,
    pub cached: bool,
    pub duration_ms: u64,
    /// COPY/ADD: bytes of its context sources the file sync sent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub bytes: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it ran (executed steps only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl StepResult {
    /// The instruction as one line (continuations joined).
    pub fn instruction(&self) -> String {
        normalize(&join_lines(&self.anchor.lines))
    }

    /// What an inlay hint says: `cached`, `ran 0.3 s: a.txt changed`,
    /// `failed after 0.3 s: exit code 3`.
    pub fn label(&self) -> String {
        if self.cached {
            return "cached".into();
        }
        let secs = seconds(self.duration_ms);
        if self.error.is_some() {
            return match self.exit_code {
                Some(code) => format!("failed after {secs}: exit code {code}"),
                None => format!("failed after {secs}"),
            };
        }
        match &self.cause {
            Some(c) => format!("ran {secs}: {}", c.short()),
            None => format!("ran {secs}"),
        }
    }
}

/// `2.3 s`, `0.04 s`.
pub fn seconds(ms: u64) -> String {
    if ms < 100 {
        format!("{:.2} s", ms as f64 / 1000.0)
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

/// A build explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Explained {
    /// Seconds since the Unix epoch when the build ended.
    pub ended: u64,
    pub ok: bool,
    pub duration_ms: u64,
    /// Context bytes the file sync sent.
    pub context_bytes: u64,
    /// Instruction steps, in file order.
    pub steps: Vec<StepResult>,
}

impl Explained {
    pub fn cached(&self) -> usize {
        self.steps.iter().filter(|s| s.cached).count()
    }

    /// `last build: 12 steps, 9 cached, 14.2 s` (failed builds say so).
    pub fn summary(&self) -> String {
        let status = if self.ok { "" } else { " (failed)" };
        format!(
            "last build{status}: {} steps, {} cached, {}",
            self.steps.len(),
            self.cached(),
            seconds(self.duration_ms)
        )
    }

    /// The attribution as a table (`build --explain`).
    pub fn table(&self) -> String {
        let rows: Vec<[String; 4]> = self
            .steps
            .iter()
            .map(|s| {
                let result = if s.cached {
                    "cached".to_string()
                } else if s.error.is_some() {
                    "failed".to_string()
                } else {
                    "ran".to_string()
                };
                let why = match (&s.cause, s.cached) {
                    (_, true) => String::new(),
                    (Some(c), _) => c.long(),
                    (None, _) => String::new(),
                };
                let line = s.anchor.start_line + 1;
                let step = truncate(&format!("{line}: {}", s.instruction()), 48);
                [step, result, seconds(s.duration_ms), why]
            })
            .collect();
        let head = ["STEP", "RESULT", "TIME", "WHY"].map(String::from);
        let widths: Vec<usize> = (0..3)
            .map(|i| {
                rows.iter()
                    .chain(std::iter::once(&head))
                    .map(|r| r[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for r in std::iter::once(&head).chain(&rows) {
            let line = format!(
                "{:w0$}  {:w1$}  {:>w2$}  {}",
                r[0],
                r[1],
                r[2],
                r[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push_str(&self.summary().replacen("last build", "build", 1));
        out.push('\n');
        out
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

/// Explains a build against the previous build's inputs (`None`: no earlier
/// build of this key is known). Returns the explanation and the inputs to
/// keep for the next build.
pub fn explain(obs: &Observation, prev: Option<&Inputs>, ended: u64) -> (Explained, Inputs) {
    let df = dockerfile::parse(&obs.dockerfile);
    let model = Model::build(&df);
    let labels = stage_labels(&model);
    let inputs = inputs_of(obs, &df, &model, &labels, prev);

    // Vertices → instructions; a step reported per platform merges.
    let mut by_instruction: BTreeMap<usize, VertexRecord> = BTreeMap::new();
    for v in &obs.vertices {
        let Some(idx) = step_instruction(&df, &model, &v.name) else {
            continue;
        };
        let merged = by_instruction.entry(idx).or_insert_with(|| VertexRecord {
            name: v.name.clone(),
            cached: true,
            ..VertexRecord::default()
        });
        merged.cached &= v.cached;
        merged.duration = match (merged.duration, v.duration) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if merged.error.is_none() {
            merged.error = v.error.clone();
        }
    }
    // A FROM step is BuildKit's image source, which reports no cache
    // state: it counts as cached unless its resolved digest changed.
    for (&idx, v) in by_instruction.iter_mut() {
        if df.instructions[idx].kind == InstructionKind::From && !v.cached && v.error.is_none() {
            let label = model.stage_of[idx].map(|s| labels[s].as_str());
            let before = label.and_then(|l| prev.and_then(|p| p.bases.get(l)));
            let now = label.and_then(|l| inputs.bases.get(l));
            v.cached = !matches!((before, now), (Some(b), Some(n)) if b != n);
        }
    }
    let changed_files: Vec<&SentFile> = obs
        .sent
        .iter()
        .filter(|f| prev.and_then(|p| p.files.get(&f.path)) != Some(&f.digest))
        .collect();
    // Each step's own cause, cached steps' too: a step answered from an
    // older cache entry still gives a result that differs from the last
    // build's, and the steps after it miss for that reason.
    let own: BTreeMap<usize, Option<Cause>> = by_instruction
        .keys()
        .map(|&idx| {
            let c = own_cause(&Ctx {
                obs,
                df: &df,
                model: &model,
                labels: &labels,
                prev,
                inputs: &inputs,
                changed_files: &changed_files,
                idx,
            });
            (idx, c)
        })
        .collect();
    let ran = |idx: usize| by_instruction.get(&idx).is_some_and(|v| !v.cached);
    let changed = |idx: usize| ran(idx) || own.get(&idx).is_some_and(Option::is_some);
    // Stages with a step that ran or changed, their parents' included.
    let mut stage_changed: Vec<Option<usize>> = vec![None; model.stages.len()];
    for (s, stage) in model.stages.iter().enumerate() {
        let parent = stage
            .parent
            .and_then(|p| stage_changed.get(p).copied().flatten());
        stage_changed[s] = parent.or(stage.instructions.iter().copied().find(|&i| changed(i)));
    }

    let mut steps = Vec::new();
    for (&idx, v) in &by_instruction {
        let ins = &df.instructions[idx];
        let Some(stage_idx) = model.stage_of.get(idx).copied().flatten() else {
            continue;
        };
        let stage = &model.stages[stage_idx];
        let range = df.range(ins.span);
        let Some(anchor) = Anchor::of_lines(
            &obs.dockerfile,
            range.start.line as usize,
            range.end.line as usize,
        ) else {
            continue;
        };
        let bytes = match copy_sources(ins) {
            Some(m) => obs
                .sent
                .iter()
                .filter(|f| m.covers(&f.path))
                .map(|f| f.bytes)
                .sum(),
            None => 0,
        };
        let cause = (!v.cached).then(|| {
            if let Some(Some(c)) = own.get(&idx) {
                return c.clone();
            }
            let earlier = stage
                .instructions
                .iter()
                .copied()
                .take_while(|&i| i < idx)
                .find(|&i| changed(i))
                .or_else(|| stage.parent.and_then(|p| stage_changed[p]))
                .or_else(|| {
                    model
                        .stage_refs
                        .iter()
                        .filter(|r| r.instruction == idx)
                        .find_map(|r| {
                            r.target
                                .and_then(|t| stage_changed.get(t).copied().flatten())
                        })
                });
            match earlier {
                Some(i) if ran(i) => Cause::EarlierStep {
                    step: step_title(&df, &model, &labels, i),
                },
                Some(i) => Cause::EarlierInput {
                    step: step_title(&df, &model, &labels, i),
                    input: Box::new(own.get(&i).cloned().flatten().unwrap_or(Cause::Unknown)),
                },
                None => Cause::Unknown,
            }
        });
        steps.push(StepResult {
            name: v.name.clone(),
            anchor,
            cached: v.cached,
            duration_ms: v.duration.map(|d| d.as_millis() as u64).unwrap_or(0),
            bytes,
            exit_code: v.error.as_deref().and_then(exit_code_of),
            error: v.error.clone(),
            cause,
        });
    }
    let explained = Explained {
        ended,
        ok: obs.ok,
        duration_ms: obs.duration.as_millis() as u64,
        context_bytes: obs.sent.iter().map(|f| f.bytes).sum(),
        steps,
    };
    (explained, inputs)
}

/// What [`own_cause`] looks at.
struct Ctx<'a> {
    obs: &'a Observation,
    df: &'a Dockerfile,
    model: &'a Model,
    labels: &'a [String],
    prev: Option<&'a Inputs>,
    inputs: &'a Inputs,
    changed_files: &'a [&'a SentFile],
    idx: usize,
}

/// A step's own cause, in order: `--no-cache`, its text, a build arg, its
/// context files, its base image digest, an ENV/USER/SHELL before it. `None`
/// when none is known (then an earlier step, or nothing known).
fn own_cause(c: &Ctx<'_>) -> Option<Cause> {
    let (df, idx) = (c.df, c.idx);
    let ins = &df.instructions[idx];
    let stage_idx = c.model.stage_of.get(idx).copied().flatten()?;
    let stage = &c.model.stages[stage_idx];
    let label = &c.labels[stage_idx];
    let prev_stage = c.prev.and_then(|p| p.texts.get(label));
    let text_known = |i: usize| {
        prev_stage.is_some_and(|t| t.contains(&normalize(df.text(df.instructions[i].span))))
    };
    if c.obs.no_cache && ins.kind != InstructionKind::From {
        return Some(Cause::NoCache);
    }
    if c.prev.is_some() && !text_known(idx) {
        return Some(Cause::InstructionChanged);
    }
    if let Some(prev) = c.prev {
        let names = changed_args(df, c.model, stage_idx, idx, label, c.inputs, prev);
        if !names.is_empty() {
            return Some(Cause::BuildArg { names });
        }
    }
    if let Some(m) = copy_sources(ins) {
        let hit: Vec<&str> = c
            .changed_files
            .iter()
            .filter(|f| m.covers(&f.path))
            .map(|f| f.path.as_str())
            .collect();
        if !hit.is_empty() {
            return Some(Cause::Files {
                names: hit
                    .iter()
                    .take(NAMED_FILES)
                    .map(|s| s.to_string())
                    .collect(),
                more: hit.len().saturating_sub(NAMED_FILES),
            });
        }
    }
    if ins.kind == InstructionKind::From {
        let before = c.prev.and_then(|p| p.bases.get(label));
        if let (Some(from), Some(to)) = (before, c.inputs.bases.get(label)) {
            if from != to {
                return Some(Cause::BaseImage {
                    from: from.clone(),
                    to: to.clone(),
                });
            }
        }
    }
    if c.prev.is_some() {
        let earlier = stage
            .instructions
            .iter()
            .copied()
            .take_while(|&i| i < idx)
            .find(|&i| {
                let k = df.instructions[i].kind;
                matches!(
                    k,
                    InstructionKind::Env | InstructionKind::User | InstructionKind::Shell
                ) && !text_known(i)
            });
        if let Some(i) = earlier {
            return Some(Cause::EarlierInstructionChanged {
                instruction: truncate(&normalize(df.text(df.instructions[i].span)), 40),
            });
        }
    }
    None
}

/// `line 4 (COPY a.txt /a)`, for "an earlier step ran".
fn step_title(df: &Dockerfile, model: &Model, labels: &[String], idx: usize) -> String {
    let line = df.range(df.instructions[idx].span).start.line + 1;
    let text = truncate(&normalize(df.text(df.instructions[idx].span)), 40);
    match model.stage_of.get(idx).copied().flatten() {
        Some(s) if !labels[s].is_empty() && model.stages.len() > 1 => {
            format!("line {line}, stage {}: {text}", labels[s])
        }
        _ => format!("line {line}: {text}"),
    }
}

/// BuildKit's `exit code: N` at the end of a failed step's error.
fn exit_code_of(message: &str) -> Option<i32> {
    let idx = message.rfind("exit code: ")?;
    let digits: String = message[idx + "exit code: ".len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '-')
        .collect();
    digits.parse().ok()
}

/// Each stage's label as BuildKit prefixes its steps: its name, else
/// `stage-N` when the file has several stages, else empty.
fn stage_labels(model: &Model) -> Vec<String> {
    let several = model.stages.len() > 1;
    model
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| match s.normalized_name() {
            Some(n) => n,
            None if several => format!("stage-{i}"),
            None => String::new(),
        })
        .collect()
}

/// The inputs of this build: the previous files overlaid with what was
/// sent, the effective ARG values, the resolved base digests and the
/// instruction texts.
fn inputs_of(
    obs: &Observation,
    df: &Dockerfile,
    model: &Model,
    labels: &[String],
    prev: Option<&Inputs>,
) -> Inputs {
    let mut files = prev.map(|p| p.files.clone()).unwrap_or_default();
    for f in &obs.sent {
        files.insert(f.path.clone(), f.digest.clone());
    }
    while files.len() > MAX_FILE_DIGESTS {
        files.pop_last();
    }
    let mut args = BTreeMap::new();
    for d in &model.definitions {
        let key = match (d.kind, d.stage) {
            (DefKind::GlobalArg, _) => format!("/{}", d.name),
            (DefKind::Arg, Some(s)) => format!("{}/{}", labels[s], d.name),
            _ => continue,
        };
        let default = d
            .value
            .as_deref()
            .or_else(|| {
                d.global
                    .and_then(|g| model.definitions.get(g))
                    .and_then(|g| g.value.as_deref())
            })
            .map(|v| dockerfile::unquote(v, df.escape));
        let value = obs
            .build_args
            .get(d.name.as_str())
            .cloned()
            .or(default)
            .unwrap_or_default();
        args.insert(key, value);
    }
    let mut bases = BTreeMap::new();
    for v in &obs.vertices {
        let Some(idx) = step_instruction(df, model, &v.name) else {
            continue;
        };
        if df.instructions[idx].kind != InstructionKind::From {
            continue;
        }
        if let (Some(s), Some(at)) = (model.stage_of[idx], v.name.rfind("@sha256:")) {
            let digest = v.name[at + 1..]
                .split_whitespace()
                .next()
                .unwrap_or_default();
            bases.insert(labels[s].clone(), digest.to_string());
        }
    }
    let mut texts: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (s, stage) in model.stages.iter().enumerate() {
        let set = texts.entry(labels[s].clone()).or_default();
        for &i in &stage.instructions {
            set.insert(normalize(df.text(df.instructions[i].span)));
        }
    }
    Inputs {
        files,
        args,
        bases,
        texts,
    }
}

/// The ARGs in scope at instruction `idx` of stage `s` that it depends on
/// (every one for RUN, whose environment they are; the ones it names
/// otherwise) and whose value differs from the previous build's.
fn changed_args(
    df: &Dockerfile,
    model: &Model,
    s: usize,
    idx: usize,
    label: &str,
    now: &Inputs,
    prev: &Inputs,
) -> Vec<String> {
    let ins = &df.instructions[idx];
    let named: BTreeSet<&str> = ins.variables.iter().map(|v| v.name.as_str()).collect();
    let mut out = BTreeSet::new();
    for d in &model.definitions {
        let key = match (d.kind, d.stage) {
            (DefKind::GlobalArg, _) if ins.kind == InstructionKind::From => format!("/{}", d.name),
            (DefKind::Arg, Some(ds)) if ds == s && d.instruction < idx => {
                format!("{label}/{}", d.name)
            }
            _ => continue,
        };
        let depends = ins.kind == InstructionKind::Run || named.contains(d.name.as_str());
        if depends && prev.args.contains_key(&key) && now.args.get(&key) != prev.args.get(&key) {
            out.insert(d.name.to_string());
        }
    }
    out.into_iter().collect()
}

/// The context sources of a COPY/ADD (none with `--from`, URLs, variables
/// or heredocs), as a matcher.
struct Sources {
    all: bool,
    patterns: Option<DockerIgnore>,
}

impl Sources {
    fn covers(&self, path: &str) -> bool {
        self.all || self.patterns.as_ref().is_some_and(|p| p.is_excluded(path))
    }
}

fn copy_sources(ins: &dockerfile::Instruction) -> Option<Sources> {
    if !matches!(ins.kind, InstructionKind::Copy | InstructionKind::Add)
        || ins.flag("from").is_some()
        || !ins.heredocs.is_empty()
    {
        return None;
    }
    let (dest, srcs) = ins.args.split_last()?;
    let _ = dest;
    let mut all = false;
    let mut patterns = Vec::new();
    for w in srcs {
        let v = w.value.as_str();
        if v.contains("://") || v.contains('$') || v.starts_with("git@") {
            continue;
        }
        let clean = crate::dockerignore::clean(v);
        let clean = clean.trim_start_matches('/');
        if clean.is_empty() || clean == "." {
            all = true;
        } else {
            patterns.push(clean.to_string());
        }
    }
    Some(Sources {
        all,
        patterns: DockerIgnore::from_patterns(&patterns).ok(),
    })
}

/// The instruction a step of BuildKit's Dockerfile frontend ran, from its
/// name `[stage i/n] TEXT`: the stage by its label, then the i-th of the
/// stage's instructions that make a step (an image FROM, RUN, COPY, ADD,
/// WORKDIR) when the stage has n of them; else the stage's instruction
/// whose text is TEXT (up to whitespace and keyword case).
pub fn step_instruction(df: &Dockerfile, model: &Model, name: &str) -> Option<usize> {
    let (prefix, text) = name.strip_prefix('[')?.split_once("] ")?;
    let mut words: Vec<&str> = prefix.split_whitespace().collect();
    let count = words.pop()?;
    let (i, n) = count.split_once('/')?;
    let (i, n): (usize, usize) = (i.parse().ok()?, n.parse().ok()?);
    // A platform (`linux/amd64`, maybe `->linux/arm64`) may precede the label.
    let label = words.into_iter().rfind(|w| !w.contains('/'));
    let stage = match label {
        Some(l) => model.stage_by_name(l).map(|s| s.index).or_else(|| {
            l.strip_prefix("stage-")
                .and_then(|k| k.parse::<usize>().ok())
                .filter(|&k| k < model.stages.len())
        })?,
        None if model.stages.len() == 1 => 0,
        None => return None,
    };
    let stage = &model.stages[stage];
    let stepping: Vec<usize> = stage
        .instructions
        .iter()
        .copied()
        .filter(|&k| match df.instructions[k].kind {
            InstructionKind::From => {
                stage.parent.is_none() && !stage.base.value.eq_ignore_ascii_case("scratch")
            }
            InstructionKind::Run
            | InstructionKind::Copy
            | InstructionKind::Add
            | InstructionKind::Workdir => true,
            _ => false,
        })
        .collect();
    if stepping.len() == n && i >= 1 {
        return stepping.get(i - 1).copied();
    }
    let want = normalize(text);
    stepping
        .into_iter()
        .find(|&k| normalize(df.text(df.instructions[k].span)) == want)
}

/// Lines joined where they continue (the escape character at the end).
fn join_lines(lines: &[String]) -> String {
    let mut out = String::new();
    for l in lines {
        let t = l.trim_end();
        match t.strip_suffix('\\').or_else(|| t.strip_suffix('`')) {
            Some(rest) => {
                out.push_str(rest);
                out.push(' ');
            }
            None => {
                out.push_str(l);
                out.push(' ');
            }
        }
    }
    out
}

/// Whitespace collapsed, continuations joined, the keyword upper-cased.
pub fn normalize(s: &str) -> String {
    let joined = if s.contains('\n') {
        join_lines(&s.lines().map(str::to_string).collect::<Vec<_>>())
    } else {
        s.to_string()
    };
    let mut words = joined.split_whitespace();
    let Some(first) = words.next() else {
        return String::new();
    };
    let mut out = first.to_ascii_uppercase();
    for w in words {
        out.push(' ');
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests;
