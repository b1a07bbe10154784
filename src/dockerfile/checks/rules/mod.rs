//! The rules themselves, grouped as BuildKit runs them: on the whole file
//! (casing, stage names), on each FROM (arguments and platform), and while
//! walking each stage's instructions with its ENV/ARG scope.

mod casing;
mod from;
mod stage;

use foldhash::{HashMap, HashMapExt};

use super::expand::{expand, Expansion};
use super::{Cx, Finding, Severity};
use crate::dockerfile::model::Model as SemanticModel;
use crate::dockerfile::syntax::{CompactString, Dockerfile, Instruction, InstructionKind};

pub(super) fn run_all(cx: &mut Cx, semantic: &SemanticModel) {
    let model = Model::build(cx.df, semantic);
    casing::check(cx, &model);
    from::check(cx, &model);
    stage::check(cx, &model);
    circular_dependency(cx, semantic);
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
        cx.out.push(Finding {
            rule: None,
            severity: Severity::Error,
            message: cycle.message(),
            span: stage_ref.span,
            url: None,
            fix: None,
        });
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
        Model {
            meta_names,
            global_env,
            stages,
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

/// Expands a FROM word against the global ARGs.
pub(super) fn expand_global<'w>(
    df: &Dockerfile,
    env: &HashMap<CompactString, String>,
    word: &'w str,
) -> Option<Expansion<'w>> {
    expand(word, df.escape, &|k| env.get(k).map(String::as_str)).ok()
}
