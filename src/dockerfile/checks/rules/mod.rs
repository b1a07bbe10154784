//! The rules themselves, grouped as BuildKit runs them: on the whole file
//! (casing, stage names), on each FROM (arguments and platform), and while
//! walking each stage's instructions with its ENV/ARG scope.

mod casing;
mod from;
mod mount;
mod stage;

use foldhash::{HashMap, HashMapExt};

use super::expand::{expand, Expansion};
use super::Cx;
use crate::dockerfile::model::{Model as SemanticModel, StageRefKind};
use crate::dockerfile::syntax::{CompactString, Dockerfile, Instruction, InstructionKind};

pub(super) fn run_all(cx: &mut Cx, semantic: &SemanticModel) {
    let model = Model::build(cx.df, semantic);
    casing::check(cx, &model);
    from::check(cx, &model);
    stage::check(cx, &model);
    circular_dependency(cx, semantic);
    copy_sources(cx, semantic);
}

/// BuildKit's errors for a `COPY --from=` value (`toCommand`, then the
/// dispatch in file order): a variable, a stage index past the last stage,
/// a stage defined after the one that copies from it; and for a
/// `--mount=from=` of a later stage.
fn copy_sources(cx: &mut Cx, semantic: &SemanticModel) {
    for r in &semantic.stage_refs {
        let Some(ins) = cx.df.instructions.get(r.instruction) else {
            continue;
        };
        if ins.kind == InstructionKind::Onbuild || r.kind == StageRefKind::FromBase {
            continue;
        }
        if r.kind == StageRefKind::MountFrom {
            let owner = semantic.stage_of.get(r.instruction).copied().flatten();
            if let (Some(t), Some(o), None) = (r.target, owner, &semantic.circular_dependency) {
                if t > o {
                    let target = ins
                        .flags_named("mount")
                        .find(|f| f.span.contains_span(r.span))
                        .and_then(|f| {
                            f.options()
                                .into_iter()
                                .find(|o| {
                                    matches!(o.key.as_str(), "target" | "dst" | "destination")
                                })
                                .and_then(|o| o.value.map(|v| v.to_string()))
                        })
                        .unwrap_or_default();
                    let span = cx.on_first_line(r.span);
                    cx.error(
                        span,
                        format!(
                            "cannot mount from stage {:?} to {target:?}, stage needs to be defined before current command",
                            r.value
                        ),
                    );
                }
            }
            continue;
        }
        let span = cx.on_first_line(r.span);
        let v = r.value.as_str();
        if v.contains('$') {
            cx.error(span, "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".to_string());
            continue;
        }
        if let Ok(i) = v.parse::<i64>() {
            if i < 0 || i >= semantic.stages.len() as i64 {
                cx.error(span, format!("invalid stage index {i}"));
                continue;
            }
        }
        let owner = semantic.stage_of.get(r.instruction).copied().flatten();
        // A cycle stops BuildKit before the dispatch that finds these.
        if let (Some(target), Some(owner), None) = (r.target, owner, &semantic.circular_dependency)
        {
            if target > owner {
                let name = semantic.stages[owner]
                    .normalized_name()
                    .unwrap_or_else(|| format!("stage-{owner}"));
                cx.error(
                    span,
                    format!(
                        "cannot copy from stage {v:?}, it needs to be defined before current stage {name:?}"
                    ),
                );
            }
        }
    }
}

/// BuildKit refuses a build whose stages depend on each other in a cycle
/// through `COPY --from=` / `--mount=from=` (the semantic model finds it).
/// Not a check rule: an error, like a syntax error, on every reference
/// along the cycle.
fn circular_dependency(cx: &mut Cx, semantic: &SemanticModel) {
    let Some(cycle) = &semantic.circular_dependency else {
        return;
    };
    for &r in &cycle.refs {
        let Some(stage_ref) = semantic.stage_refs.get(r) else {
            continue;
        };
        cx.error(stage_ref.span, cycle.message());
    }
}

/// BuildKit's automatic platform ARGs with the values a linux/amd64 build
/// gives them (what the checks assume without a builder).
pub(super) const PREDEFINED_ARGS: [(&str, &str); 10] = [
    ("BUILDPLATFORM", "linux/amd64"),
    ("BUILDOS", "linux"),
    ("BUILDOSVERSION", ""),
    ("BUILDARCH", "amd64"),
    ("BUILDVARIANT", ""),
    ("TARGETPLATFORM", "linux/amd64"),
    ("TARGETOS", "linux"),
    ("TARGETOSVERSION", ""),
    ("TARGETARCH", "amd64"),
    ("TARGETVARIANT", ""),
];

/// One build stage: its FROM and the instructions up to the next FROM.
pub(super) struct StageView<'a> {
    pub from_idx: usize,
    pub from: &'a Instruction,
    /// The stage name, lower-cased as BuildKit stores it.
    pub name: Option<CompactString>,
    /// The instructions after the FROM, up to the next FROM.
    pub commands: &'a [usize],
    /// The earlier stage this one is built on (`FROM <stage>`).
    pub parent: Option<usize>,
    /// The base name after expanding global ARGs (lower-cased).
    pub base: String,
    /// That expansion (`None`: it failed), shared by the FROM rules.
    pub base_expansion: Option<Expansion<'a>>,
}

/// What the rules share: stages, global ARGs and their default values.
pub(super) struct Model<'a> {
    /// Names declared by those ARGs.
    pub meta_names: Vec<CompactString>,
    /// Global values: the predefined platform ARGs, then meta ARG defaults.
    pub global_env: HashMap<CompactString, String>,
    pub stages: Vec<StageView<'a>>,
    /// Per stage: whether the last stage (the default target) needs it.
    pub reachable: Vec<bool>,
}

impl<'a> Model<'a> {
    /// The semantic model's stages, with what only the rules need: the
    /// global ARG values and each base expanded against them.
    fn build(df: &'a Dockerfile, semantic: &'a SemanticModel) -> Model<'a> {
        let mut stages: Vec<StageView<'a>> = semantic
            .stages
            .iter()
            .filter_map(|s| {
                Some(StageView {
                    from_idx: s.from_instruction,
                    from: df.instructions.get(s.from_instruction)?,
                    name: s.name.as_ref().map(|w| w.value.to_lowercase()),
                    commands: s.instructions.get(1..).unwrap_or_default(),
                    parent: None,
                    base: String::new(),
                    base_expansion: None,
                })
            })
            .collect();
        let first_from = stages.first().map_or(df.instructions.len(), |s| s.from_idx);
        let meta_args: Vec<usize> = (0..first_from)
            .filter(|&i| df.instructions[i].kind == InstructionKind::Arg)
            .collect();

        let mut global_env: HashMap<CompactString, String> = PREDEFINED_ARGS
            .iter()
            .map(|(k, v)| (CompactString::new(k), v.to_string()))
            .collect();
        let target = stages
            .last()
            .and_then(|s| s.name.as_ref().map(|n| n.to_string()))
            .unwrap_or_else(|| "default".to_string());
        global_env.insert(CompactString::new("TARGETSTAGE"), target);
        let mut meta_names = Vec::new();
        for &i in &meta_args {
            for kv in &df.instructions[i].key_values {
                meta_names.push(kv.key.clone());
                if let Some(v) = &kv.value {
                    let env = &global_env;
                    let value = expand(v, df.escape, &|k| env.get(k).map(String::as_str))
                        .map(|e| e.result)
                        .unwrap_or_default();
                    global_env.insert(kv.key.clone(), value);
                }
            }
        }

        // Which earlier stage each FROM names (stage names match
        // case-insensitively, and only stages defined before).
        let mut by_name: HashMap<CompactString, usize> = HashMap::new();
        for (s, stage) in stages.iter_mut().enumerate() {
            let from: &'a Instruction = stage.from;
            let raw = from
                .from
                .as_ref()
                .map(|f| f.image.value.as_str())
                .unwrap_or("");
            let expansion = expand_global(df, &global_env, raw);
            let base = expansion
                .as_ref()
                .map_or(raw, |e| e.result.as_str())
                .to_lowercase();
            stage.parent = by_name.get(base.as_str()).copied();
            stage.base = base;
            stage.base_expansion = expansion;
            if let Some(name) = stage.name.clone() {
                // The latest stage of that name wins for later references.
                by_name.insert(name, s);
            }
        }
        let reachable = reachable_from_target(df, semantic, &stages);
        Model {
            meta_names,
            global_env,
            stages,
            reachable,
        }
    }
}

/// Each stage's base image with the global ARGs expanded as the checks
/// expand it (`None` where the expansion fails or a variable is not
/// declared), in stage order.
pub(crate) fn expanded_bases(df: &Dockerfile, semantic: &SemanticModel) -> Vec<Option<String>> {
    Model::build(df, semantic)
        .stages
        .into_iter()
        .map(|s| {
            s.base_expansion
                .filter(|e| e.unmatched.is_empty())
                .map(|e| e.result)
        })
        .collect()
}

/// The stages BuildKit resolves for the target, the last stage
/// (`allReachableStages`): it, its base stages, and the stages it copies or
/// mounts from, transitively. Only these run a parent's ONBUILD triggers.
fn reachable_from_target(
    df: &Dockerfile,
    semantic: &SemanticModel,
    stages: &[StageView],
) -> Vec<bool> {
    let n = stages.len();
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, st) in stages.iter().enumerate() {
        deps[i].extend(st.parent);
    }
    for r in &semantic.stage_refs {
        let onbuild =
            df.instructions.get(r.instruction).map(|i| i.kind) == Some(InstructionKind::Onbuild);
        if let (Some(Some(owner)), Some(t), false) =
            (semantic.stage_of.get(r.instruction), r.target, onbuild)
        {
            if *owner < n && t < n {
                deps[*owner].push(t);
            }
        }
    }
    let mut seen = vec![false; n];
    let mut todo: Vec<usize> = n.checked_sub(1).into_iter().collect();
    while let Some(s) = todo.pop() {
        if std::mem::replace(&mut seen[s], true) {
            continue;
        }
        todo.extend(deps[s].iter().copied().filter(|&d| !seen[d]));
    }
    seen
}

/// Expands a FROM word against the global ARGs.
pub(super) fn expand_global<'w>(
    df: &Dockerfile,
    env: &HashMap<CompactString, String>,
    word: &'w str,
) -> Option<Expansion<'w>> {
    expand(word, df.escape, &|k| env.get(k).map(String::as_str)).ok()
}
