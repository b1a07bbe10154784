//! The semantic model of a parsed Dockerfile: build stages, ARG/ENV
//! definitions with BuildKit's scope rules, every variable reference resolved
//! to its definition, and stage references (`COPY --from=`, `RUN
//! --mount=from=`, `FROM <stage>`) resolved to stages.
//!
//! Scope rules (BuildKit's): ARGs before the first FROM are global and visible
//! only in FROM lines, unless a stage redeclares them (`ARG NAME`); the
//! automatic platform ARGs (BUILDPLATFORM, TARGETARCH, …) behave like globals
//! that need no declaration; inside a stage a reference sees the ARG/ENV
//! definitions of earlier instructions of that stage, ENV winning over ARG of
//! the same name; ENV (not ARG) is inherited from a parent stage named in
//! `FROM <stage>`. BuildKit's predefined proxy and BUILDKIT_* args resolve as
//! built-ins.

use foldhash::{HashMap, HashMapExt, HashSet};

use super::syntax::{CompactString, Dockerfile, Instruction, InstructionKind, VarRef, Word};
use super::text::Span;

/// The ARGs BuildKit defines automatically (its `defaultArgs`): usable in
/// FROM lines without declaration, inside a stage after `ARG NAME`.
pub const AUTOMATIC_PLATFORM_ARGS: &[&str] = &[
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDOSVERSION",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETOSVERSION",
    "TARGETARCH",
    "TARGETVARIANT",
    "TARGETSTAGE",
];

/// Other ARGs BuildKit predefines or reads (proxies, BUILDKIT_* settings).
pub const BUILTIN_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
    "BUILDKIT_INLINE_CACHE",
    "BUILDKIT_SYNTAX",
    "BUILDKIT_CONTEXT_KEEP_GIT_DIR",
    "BUILDKIT_MULTI_PLATFORM",
    "BUILDKIT_SANDBOX_HOSTNAME",
    "BUILDKIT_CACHE_MOUNT_NS",
    "BUILDKIT_DOCKERFILE_CHECK",
    "BUILDKIT_SBOM_SCAN_CONTEXT",
    "BUILDKIT_SBOM_SCAN_STAGE",
    "SOURCE_DATE_EPOCH",
];

/// A build stage: one `FROM` and the instructions up to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub index: usize,
    /// The name as written after `AS`.
    pub name: Option<Word>,
    /// The base image expression as written (`golang:${GO}`, or a stage name).
    pub base: Word,
    /// The `--platform` value and its span, when given.
    pub platform: Option<(CompactString, Span)>,
    /// Index of the FROM in [`Dockerfile::instructions`].
    pub from_instruction: usize,
    /// Indexes of all the stage's instructions, FROM first.
    pub instructions: Vec<usize>,
    /// From the FROM keyword to the end of the stage's last instruction.
    pub span: Span,
    /// The stage this one builds on (`FROM <earlier stage name>`).
    pub parent: Option<usize>,
}

impl Stage {
    /// The name lower-cased, as BuildKit compares stage names.
    pub fn normalized_name(&self) -> Option<String> {
        self.name
            .as_ref()
            .map(|n| n.value.as_str().to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DefKind {
    /// ARG before the first FROM.
    GlobalArg,
    /// ARG inside a stage.
    Arg,
    Env,
}

/// One variable definition (one name of an ARG/ENV instruction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarDef {
    pub name: CompactString,
    pub kind: DefKind,
    /// `None` for global ARGs.
    pub stage: Option<usize>,
    /// Index into [`Dockerfile::instructions`].
    pub instruction: usize,
    pub name_span: Span,
    /// The raw value (quotes kept), if written.
    pub value: Option<CompactString>,
    pub value_span: Option<Span>,
    /// For a stage `ARG NAME` that redeclares a global ARG: that definition.
    pub global: Option<usize>,
}

/// What a variable reference means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Index into [`Model::definitions`].
    Defined(usize),
    /// One of [`AUTOMATIC_PLATFORM_ARGS`], available without declaration.
    Automatic,
    /// One of [`BUILTIN_ARGS`].
    Builtin,
    Undefined,
}

/// A variable reference and what it resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRef {
    /// Index into [`Dockerfile::instructions`].
    pub instruction: usize,
    /// `None` for references before the first FROM and in FROM lines.
    pub stage: Option<usize>,
    /// The variable's name and where the name is (the whole reference is
    /// [`ResolvedRef::var`]).
    pub name: CompactString,
    pub name_span: Span,
    /// Index into the instruction's [`Instruction::variables`].
    pub var_index: usize,
    pub resolution: Resolution,
}

impl ResolvedRef {
    /// The reference as parsed (braces, operator, operand); `df` is the
    /// file the model was built from.
    pub fn var<'a>(&self, df: &'a Dockerfile) -> Option<&'a VarRef> {
        df.instructions
            .get(self.instruction)?
            .variables
            .get(self.var_index)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageRefKind {
    /// `COPY --from=<stage>`
    CopyFrom,
    /// `RUN --mount=…,from=<stage>`
    MountFrom,
    /// `FROM <stage>`
    FromBase,
}

/// A place that may name a stage; `target` is `None` when it names an image.
/// `FROM <stage>` sees only earlier stages; `COPY --from=` and
/// `--mount=from=` see every stage of the file (BuildKit orders the build by
/// dependencies), so they may name later stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRef {
    pub instruction: usize,
    pub kind: StageRefKind,
    pub value: CompactString,
    pub span: Span,
    pub target: Option<usize>,
}

/// The semantic model. Indexes point into the [`Dockerfile`] it was built from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Model {
    pub stages: Vec<Stage>,
    /// Indexes into `definitions` of the ARGs before the first FROM.
    pub global_args: Vec<usize>,
    pub definitions: Vec<VarDef>,
    pub references: Vec<ResolvedRef>,
    pub stage_refs: Vec<StageRef>,
    /// For each instruction, the stage it belongs to (`None` before any FROM).
    pub stage_of: Vec<Option<usize>>,
    /// A dependency cycle through `COPY --from=` / `--mount=from=`, which
    /// fails the build (`circular dependency detected on stage: NAME`).
    pub circular_dependency: Option<StageCycle>,
}

/// A cycle of stage dependencies, as BuildKit reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageCycle {
    /// The stage BuildKit names: the first stage, in file order, from which
    /// the cycle is reachable.
    pub stage: usize,
    /// Its name as BuildKit prints it (lower-cased, or `stage-N`).
    pub stage_name: String,
    /// Indexes into [`Model::stage_refs`] along the cycle.
    pub refs: Vec<usize>,
}

impl StageCycle {
    /// BuildKit's error message.
    pub fn message(&self) -> String {
        format!("circular dependency detected on stage: {}", self.stage_name)
    }
}

impl Model {
    pub fn build(df: &Dockerfile) -> Model {
        build(df)
    }

    /// The stage with this name (case-insensitive) or index.
    pub fn stage_by_name(&self, name: &str) -> Option<&Stage> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .find(|s| s.normalized_name().as_deref() == Some(lower.as_str()))
    }

    /// The stage whose span touches `offset`.
    pub fn stage_at(&self, offset: usize) -> Option<&Stage> {
        self.stages.iter().find(|s| s.span.touches(offset))
    }

    /// The reference whose name span touches `offset`.
    pub fn reference_at(&self, offset: usize) -> Option<&ResolvedRef> {
        self.references.iter().find(|r| r.name_span.touches(offset))
    }

    /// The definition whose name span touches `offset`.
    pub fn definition_at(&self, offset: usize) -> Option<(usize, &VarDef)> {
        self.definitions
            .iter()
            .enumerate()
            .find(|(_, d)| d.name_span.touches(offset))
    }

    /// All references resolving to definition `def`.
    pub fn references_to(&self, def: usize) -> impl Iterator<Item = &ResolvedRef> {
        self.references
            .iter()
            .filter(move |r| r.resolution == Resolution::Defined(def))
    }
}

fn build(df: &Dockerfile) -> Model {
    let mut m = Model {
        stage_of: vec![None; df.instructions.len()],
        ..Model::default()
    };
    // Lower-cased stage name → first stage with it; global ARG name → last
    // definition. Hash maps keep huge files linear.
    let mut stage_names: HashMap<CompactString, usize> = HashMap::new();
    let mut globals: HashMap<&str, usize> = HashMap::new();
    // Stages and definitions.
    for (i, ins) in df.instructions.iter().enumerate() {
        if ins.kind == InstructionKind::From {
            let index = m.stages.len();
            let (base, name) = match &ins.from {
                Some(fc) => (fc.image.clone(), fc.stage_name.clone()),
                None => (
                    Word {
                        value: CompactString::default(),
                        span: ins.rest_span,
                    },
                    None,
                ),
            };
            let parent = stage_names.get(&base.value.to_ascii_lowercase()).copied();
            // BuildKit's `addState`: a later stage of the same name replaces
            // the earlier one for everything after it.
            if let Some(n) = &name {
                stage_names.insert(n.value.to_ascii_lowercase(), index);
            }
            if let Some(p) = parent {
                m.stage_refs.push(StageRef {
                    instruction: i,
                    kind: StageRefKind::FromBase,
                    value: base.value.clone(),
                    span: base.span,
                    target: Some(p),
                });
            }
            m.stages.push(Stage {
                index,
                name,
                base,
                platform: ins
                    .flag("platform")
                    .and_then(|f| Some((f.value.clone()?, f.value_span?))),
                from_instruction: i,
                instructions: vec![i],
                span: ins.span,
                parent,
            });
            m.stage_of[i] = Some(index);
            continue;
        }
        let stage = m.stages.len().checked_sub(1);
        m.stage_of[i] = stage;
        if let Some(s) = stage {
            m.stages[s].instructions.push(i);
            m.stages[s].span = m.stages[s].span.cover(ins.span);
        }
        let kind = match (ins.kind, stage) {
            (InstructionKind::Arg, None) => DefKind::GlobalArg,
            (InstructionKind::Arg, Some(_)) => DefKind::Arg,
            (InstructionKind::Env, Some(_)) => DefKind::Env,
            _ => continue,
        };
        for kv in &ins.key_values {
            let global = if kind == DefKind::Arg {
                globals.get(kv.key.as_str()).copied()
            } else {
                None
            };
            if kind == DefKind::GlobalArg {
                globals.insert(kv.key.as_str(), m.definitions.len());
                m.global_args.push(m.definitions.len());
            }
            m.definitions.push(VarDef {
                name: kv.key.clone(),
                kind,
                stage,
                instruction: i,
                name_span: kv.key_span,
                value: kv.value.clone(),
                value_span: kv.value_span,
                global,
            });
        }
    }

    // Definitions by scope and name, in source order, so every lookup is a
    // hash probe plus a binary search (no quadratic blow-up on huge files).
    let mut scopes = Scopes::default();
    for (d, def) in m.definitions.iter().enumerate() {
        let key = (def.stage, def.name.as_str());
        match def.kind {
            DefKind::Env => scopes.env.entry(key).or_default().push(d),
            DefKind::Arg | DefKind::GlobalArg => scopes.arg.entry(key).or_default().push(d),
        }
    }

    scopes.env_names = scopes.env.keys().map(|&(_, n)| n).collect();
    let mut memo = HashMap::new();

    // References: one per variable reference, so reserved at once.
    m.references
        .reserve_exact(df.instructions.iter().map(|i| i.variables.len()).sum());
    for (i, ins) in df.instructions.iter().enumerate() {
        let in_from = ins.kind == InstructionKind::From;
        let stage = if in_from { None } else { m.stage_of[i] };
        for (var_index, var) in ins.variables.iter().enumerate() {
            let resolution = match stage {
                None => resolve_global(&m, &scopes, i, &var.name),
                Some(s) => resolve_in_stage(&m, &scopes, &mut memo, s, i, &var.name),
            };
            m.references.push(ResolvedRef {
                instruction: i,
                stage,
                name: var.name.clone(),
                name_span: var.name_span,
                var_index,
                resolution,
            });
        }
        // Stage references: resolved against every stage of the file, later
        // ones included, as BuildKit's `toCommand`/`detectRunMount` do.
        let target_ins = match (&ins.kind, &ins.onbuild) {
            (InstructionKind::Onbuild, Some(inner)) => inner.as_ref(),
            _ => ins,
        };
        let found = stage_sources(target_ins);
        for (kind, value, span) in found {
            let target = resolve_stage_source(kind, &value, &stage_names, m.stages.len());
            m.stage_refs.push(StageRef {
                instruction: i,
                kind,
                value,
                span,
                target,
            });
        }
    }
    m.circular_dependency = circular_dependency(&m, df);
    m
}

/// The stages an instruction reads from: `COPY --from=` and every
/// `RUN --mount=…,from=`, with the value and its span.
pub(crate) fn stage_sources(ins: &Instruction) -> Vec<(StageRefKind, CompactString, Span)> {
    let mut found = Vec::new();
    match ins.kind {
        InstructionKind::Copy => {
            if let Some(f) = ins.flag("from") {
                if let (Some(v), Some(vs)) = (&f.value, f.value_span) {
                    found.push((StageRefKind::CopyFrom, v.clone(), vs));
                }
            }
        }
        InstructionKind::Run => {
            // Most mounts (cache, secret) name no stage: skip splitting them.
            for f in ins
                .flags_named("mount")
                .filter(|f| f.value.as_deref().is_some_and(|v| v.contains("from=")))
            {
                for opt in f.options() {
                    if opt.key == "from" {
                        if let (Some(v), Some(vs)) = (opt.value, opt.value_span) {
                            found.push((StageRefKind::MountFrom, v, vs));
                        }
                    }
                }
            }
        }
        _ => {}
    }
    found
}

/// The stage a `COPY --from=` / `--mount=from=` value names, as BuildKit
/// resolves it: by name (case-insensitive, the last stage of that name)
/// among all stages, for COPY also by index; `None` for an image or a
/// value with variables (BuildKit rejects those for `--from`).
pub(crate) fn resolve_stage_source(
    kind: StageRefKind,
    value: &str,
    names: &HashMap<CompactString, usize>,
    stage_count: usize,
) -> Option<usize> {
    if value.contains('$') {
        return None;
    }
    if kind == StageRefKind::CopyFrom {
        if let Ok(n) = value.parse::<usize>() {
            return (n < stage_count).then_some(n);
        }
    }
    names.get(value.to_ascii_lowercase().as_str()).copied()
}

/// BuildKit's `validateCircularDependency` over `COPY --from=` / mount
/// dependencies (ONBUILD triggers do not count: they run in other builds).
fn circular_dependency(m: &Model, df: &Dockerfile) -> Option<StageCycle> {
    let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); m.stages.len()];
    for (r, sr) in m.stage_refs.iter().enumerate() {
        if sr.kind == StageRefKind::FromBase
            || df.instructions.get(sr.instruction).map(|i| i.kind) == Some(InstructionKind::Onbuild)
        {
            continue;
        }
        if let (Some(Some(owner)), Some(target)) = (m.stage_of.get(sr.instruction), sr.target) {
            // BuildKit keeps one command per dependency (`deps[src] = cmd`,
            // a map): the stage's last reference to that target.
            match edges[*owner].iter_mut().find(|(t, _)| *t == target) {
                Some(edge) => edge.1 = r,
                None => edges[*owner].push((target, r)),
            }
        }
    }
    let (stage, refs) = find_cycle(&edges)?;
    Some(StageCycle {
        stage,
        stage_name: build_stage_name(&m.stages[stage]),
        refs,
    })
}

/// The name BuildKit gives a stage in messages: its name lower-cased, or
/// `stage-N` when unnamed.
fn build_stage_name(stage: &Stage) -> String {
    stage
        .normalized_name()
        .unwrap_or_else(|| format!("stage-{}", stage.index))
}

/// Depth-first search for a cycle in `edges` (node → (target, payload)),
/// roots in order as BuildKit visits its stages. Returns the root whose
/// search found the cycle and the payloads of the edges on the path, the
/// closing edge last. Iterative, so thousands of chained stages cannot
/// overflow the stack.
pub(crate) fn find_cycle<T: Copy>(edges: &[Vec<(usize, T)>]) -> Option<(usize, Vec<T>)> {
    let n = edges.len();
    let mut visited = vec![false; n];
    let mut on_path = vec![false; n];
    for root in 0..n {
        if visited[root] {
            continue;
        }
        visited[root] = true;
        on_path[root] = true;
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        let mut path: Vec<T> = Vec::new();
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            match edges[node].get(next) {
                Some(&(target, payload)) => {
                    top.1 += 1;
                    if target >= n {
                        continue;
                    }
                    if on_path[target] {
                        path.push(payload);
                        return Some((root, path));
                    }
                    if !visited[target] {
                        visited[target] = true;
                        on_path[target] = true;
                        path.push(payload);
                        stack.push((target, 0));
                    }
                }
                None => {
                    on_path[node] = false;
                    stack.pop();
                    // The edge that led here (none for the root).
                    if !stack.is_empty() {
                        path.pop();
                    }
                }
            }
        }
    }
    None
}

#[derive(Default)]
struct Scopes<'a> {
    /// (stage, name) → ENV definitions in source order.
    env: HashMap<(Option<usize>, &'a str), Vec<usize>>,
    /// (stage or `None` for globals, name) → ARG definitions in source order.
    arg: HashMap<(Option<usize>, &'a str), Vec<usize>>,
    /// Names that have an ENV definition anywhere.
    env_names: HashSet<&'a str>,
}

/// The last definition in `list` made by an instruction before `instruction`.
fn latest_before(m: &Model, list: Option<&Vec<usize>>, instruction: usize) -> Option<usize> {
    let list = list?;
    let k = list.partition_point(|&d| m.definitions[d].instruction < instruction);
    k.checked_sub(1).map(|k| list[k])
}

fn resolve_global(m: &Model, scopes: &Scopes, instruction: usize, name: &str) -> Resolution {
    match latest_before(m, scopes.arg.get(&(None, name)), instruction) {
        Some(d) => Resolution::Defined(d),
        None => fallback(name),
    }
}

fn fallback(name: &str) -> Resolution {
    if AUTOMATIC_PLATFORM_ARGS.contains(&name) {
        Resolution::Automatic
    } else if BUILTIN_ARGS.contains(&name) {
        Resolution::Builtin
    } else {
        Resolution::Undefined
    }
}

/// The ENV definition of `name` that `stage` inherits from its ancestors
/// (`FROM <stage>` chains). Answers are memoised per (stage, name) for every
/// stage walked, so long chains referenced many times stay linear.
fn inherited_env<'a>(
    m: &Model,
    scopes: &Scopes,
    memo: &mut HashMap<(usize, &'a str), Option<usize>>,
    stage: usize,
    name: &'a str,
) -> Option<usize> {
    if !scopes.env_names.contains(name) {
        return None;
    }
    let mut walked = Vec::new();
    let mut parent = m.stages[stage].parent;
    let mut found = None;
    while let Some(p) = parent {
        if let Some(&hit) = memo.get(&(p, name)) {
            found = hit;
            break;
        }
        walked.push(p);
        if let Some(&d) = scopes.env.get(&(Some(p), name)).and_then(|l| l.last()) {
            found = Some(d);
            break;
        }
        // Parents always come earlier, so the chain ends; the length check
        // is belt and braces.
        if walked.len() > m.stages.len() {
            break;
        }
        parent = m.stages[p].parent;
    }
    // Every walked stage sees the same answer for its own descendants, except
    // the defining stage itself, whose "inherited" value is from above it.
    for p in walked {
        let own = scopes.env.contains_key(&(Some(p), name));
        if !own {
            memo.insert((p, name), found);
        } else {
            break;
        }
    }
    found
}

fn resolve_in_stage<'a>(
    m: &Model,
    scopes: &Scopes,
    memo: &mut HashMap<(usize, &'a str), Option<usize>>,
    stage: usize,
    instruction: usize,
    name: &'a str,
) -> Resolution {
    // ENV always wins over ARG of the same name.
    if let Some(d) = latest_before(m, scopes.env.get(&(Some(stage), name)), instruction) {
        return Resolution::Defined(d);
    }
    // ENV inherited from parent stages.
    if let Some(d) = inherited_env(m, scopes, memo, stage, name) {
        return Resolution::Defined(d);
    }
    if let Some(d) = latest_before(m, scopes.arg.get(&(Some(stage), name)), instruction) {
        return Resolution::Defined(d);
    }
    if BUILTIN_ARGS.contains(&name) {
        return Resolution::Builtin;
    }
    Resolution::Undefined
}
