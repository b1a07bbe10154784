//! Rules that need a stage's scope, checked in one walk over each stage's
//! instructions (as BuildKit's dispatch does): UndefinedVar,
//! WorkdirRelativePath, JSONArgsRecommended, MultipleInstructionsDisallowed,
//! LegacyKeyValueFormat, SecretsUsedInArgOrEnv, MaintainerDeprecated,
//! ExposeProtoCasing, ExposeInvalidFormat, CopyIgnoredFile; plus the
//! per-instruction NoEmptyContinuation and InvalidDefinitionDescription.

use foldhash::{HashMap, HashSet};

use super::Model;
use crate::dockerfile::checks::expand::{expand, expand_with, suggest};
use crate::dockerfile::checks::fixes::repair_json_array;
use crate::dockerfile::checks::{
    Cx, Edit, Fix, COPY_IGNORED_FILE, EXPOSE_INVALID_FORMAT, EXPOSE_PROTO_CASING,
    INVALID_DEFINITION_DESCRIPTION, JSON_ARGS_RECOMMENDED, LEGACY_KEY_VALUE_FORMAT,
    MAINTAINER_DEPRECATED, MULTIPLE_INSTRUCTIONS_DISALLOWED, NO_EMPTY_CONTINUATION,
    SECRETS_USED_IN_ARG_OR_ENV, UNDEFINED_VAR, WORKDIR_RELATIVE_PATH,
};
use crate::dockerfile::syntax::{
    ArgForm, CompactString, Instruction, InstructionKind, KeyValue, VarRef,
};
use crate::dockerfile::text::Span;

/// BuildKit's `system.DefaultPathEnvUnix`, the PATH of a stage whose base
/// sets none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// ARGs BuildKit never treats as undefined (SBOM scanner switches).
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// Largest scope searched for `did you mean` suggestions.
const MAX_SUGGEST_SCOPE: usize = 1024;

/// Entries a file may copy into child stages' scopes in total; past it a
/// child starts empty and is treated like an external base (so nothing is
/// over-reported). Keeps `FROM parent` chains linear on hostile input.
const CLONE_BUDGET: usize = 1 << 20;

/// What a stage knows at a point of its walk. Children built `FROM` this
/// stage start from its final scope (BuildKit clones the state).
#[derive(Debug, Clone, Default)]
struct Scope {
    /// ENV and valued ARGs (values expanded where possible).
    env: HashMap<CompactString, String>,
    /// ARG names declared in this stage or a stage it is built on, with a
    /// value or without (BuildKit's `buildArgs`, which a child stage
    /// inherits: an ARG without a value is in no ENV, yet not undefined).
    args: HashSet<CompactString>,
    shell_set: bool,
    workdir_set: bool,
    /// The working directory the WORKDIRs resolved to, as BuildKit's
    /// `NormalizeWorkdir` joins them (empty: none set, `/`).
    workdir: String,
    /// The stage chain ends in an image from a registry, whose ENV is unknown.
    external: bool,
}

impl Scope {
    fn lookup<'s>(&'s self) -> impl Fn(&str) -> Option<&'s str> + 's {
        move |k: &str| self.env.get(k).map(String::as_str)
    }
}

pub(super) fn check(cx: &mut Cx, model: &Model) {
    let df = cx.df;
    empty_continuations(cx);
    definition_descriptions(cx, model);
    // BuildKit flags MAINTAINER while parsing, wherever it is.
    for (idx, ins) in df.instructions.iter().enumerate() {
        if ins.kind == InstructionKind::Maintainer {
            maintainer(cx, idx, ins);
        }
    }

    // How many later stages build on each stage: the last one takes the
    // parent's scope by move instead of a copy.
    let mut children_left: Vec<usize> = vec![0; model.stages.len()];
    for st in &model.stages {
        if let Some(p) = st.parent {
            children_left[p] += 1;
        }
    }
    let mut budget = CLONE_BUDGET;
    let mut finals: Vec<Option<Scope>> = Vec::with_capacity(model.stages.len());
    for (s_idx, st) in model.stages.iter().enumerate() {
        let inherited = st.parent.and_then(|p| {
            children_left[p] = children_left[p].saturating_sub(1);
            let slot = finals.get_mut(p)?;
            if children_left[p] == 0 {
                return slot.take();
            }
            let parent = slot.as_ref()?;
            let size = parent.env.len() + parent.args.len();
            if size > budget {
                return Some(Scope {
                    external: true,
                    ..Scope::default()
                });
            }
            budget -= size;
            Some(parent.clone())
        });
        let mut scope = match inherited {
            Some(parent) => parent,
            None => {
                let mut scope = Scope {
                    external: st.base != "scratch",
                    ..Scope::default()
                };
                // BuildKit makes sure PATH is set in every stage it starts
                // from an image or from scratch (`DefaultPathEnv` of the
                // build's target platform, linux/amd64 here: a stage's own
                // `--platform=windows/…` does not change it); a registry
                // image may set its own.
                scope
                    .env
                    .insert(CompactString::new("PATH"), DEFAULT_PATH.to_string());
                scope
            }
        };
        let mut once = UsedOnce::default();
        // A stage built on another stage of the file runs that stage's
        // ONBUILD triggers first; BuildKit dispatches them like the stage's
        // own instructions and places their findings on this stage's FROM.
        // Only in stages the target needs: BuildKit initialises triggers
        // while resolving the target's stages, even when linting all.
        let reachable = model.reachable.get(s_idx).copied().unwrap_or(false);
        if let Some(parent) = st
            .parent
            .and_then(|p| model.stages.get(p))
            .filter(|_| reachable)
        {
            let triggers: Vec<(&Instruction, &Instruction)> = parent
                .commands
                .iter()
                .filter_map(|&i| {
                    let outer = &df.instructions[i];
                    Some((outer, outer.onbuild.as_deref()?))
                })
                .collect();
            if !triggers.is_empty() {
                cx.relocate = Some(st.from.span);
                for (outer, trigger) in triggers {
                    // An ONBUILD line with an error of its own (the
                    // trigger's syntax included) stops BuildKit before any
                    // stage runs: reported there, not here.
                    let first = df
                        .errors
                        .partition_point(|e| e.span.start < outer.span.start);
                    if df
                        .errors
                        .get(first)
                        .is_some_and(|e| e.span.start < outer.span.end)
                    {
                        continue;
                    }
                    // BuildKit parses the trigger afresh here: its errors
                    // stop the build, on this FROM.
                    let errors = crate::dockerfile::parse(&trigger_text(df, outer, trigger)).errors;
                    if let Some(e) = errors.first() {
                        cx.error(st.from.span, e.message.clone());
                        continue;
                    }
                    // The trigger's heredoc bodies were taken by the ONBUILD
                    // line; BuildKit hands them to the trigger.
                    if trigger.heredocs.is_empty() && !outer.heredocs.is_empty() {
                        let mut t = trigger.clone();
                        t.heredocs = outer.heredocs.clone();
                        t.variables.extend(
                            outer
                                .variables
                                .iter()
                                .filter(|v| {
                                    outer
                                        .heredocs
                                        .iter()
                                        .any(|h| h.body_span.contains_span(v.span))
                                })
                                .cloned(),
                        );
                        dispatch(cx, model, &mut scope, &mut once, st.from_idx, &t);
                    } else {
                        dispatch(cx, model, &mut scope, &mut once, st.from_idx, trigger);
                    }
                }
                cx.relocate = None;
            }
        }
        for &idx in st.commands {
            dispatch(cx, model, &mut scope, &mut once, idx, &df.instructions[idx]);
        }
        finals.push(Some(scope));
    }
}

/// The CMD/ENTRYPOINT/HEALTHCHECK seen so far in a stage: where each was
/// (BuildKit reports the earlier one, which is ignored).
#[derive(Default)]
struct UsedOnce {
    cmd: Option<Span>,
    entrypoint: Option<Span>,
    healthcheck: Option<Span>,
}

/// One instruction of a stage (or an ONBUILD trigger run in it), as
/// BuildKit's dispatch sees it: the rules that need the scope, then the
/// scope's update.
fn dispatch(
    cx: &mut Cx,
    model: &Model,
    scope: &mut Scope,
    once: &mut UsedOnce,
    idx: usize,
    ins: &Instruction,
) {
    let df = cx.df;
    let at = Some(idx);
    // `${X?message}` on an unset X stops the build where BuildKit expands
    // the instruction's words.
    if ins.kind.expands_variables() {
        let failed = ins
            .args
            .iter()
            .filter(|w| w.value.contains('$'))
            .find_map(|w| {
                let e = expand(&w.value, df.escape, &scope.lookup()).err()?;
                Some((w, e.message?))
            });
        if let Some((w, why)) = failed {
            cx.error(
                w.span,
                format!("failed to process {:?}: {why}", w.value.as_str()),
            );
        }
    }
    match ins.kind {
        InstructionKind::Cmd | InstructionKind::Entrypoint => {
            let tracker = if ins.kind == InstructionKind::Cmd {
                &mut once.cmd
            } else {
                &mut once.entrypoint
            };
            used_once(cx, idx, ins, tracker);
            if ins.form == ArgForm::Shell && !scope.shell_set {
                json_args(cx, idx, ins);
            }
        }
        InstructionKind::Healthcheck => used_once(cx, idx, ins, &mut once.healthcheck),
        InstructionKind::Shell => scope.shell_set = true,
        InstructionKind::Workdir => {
            undefined_vars(cx, at, scope, ins.variables.iter());
            if let Some(path) = ins.args.first() {
                let expanded = expand(&path.value, df.escape, &scope.lookup())
                    .map(|e| e.result)
                    .unwrap_or_else(|_| path.value.to_string());
                let base = if scope.workdir.is_empty() {
                    "/"
                } else {
                    &scope.workdir
                };
                scope.workdir = match is_absolute(&expanded) {
                    true => crate::dockerignore::clean(&expanded),
                    false => crate::dockerignore::clean(&format!("{base}/{expanded}")),
                };
                if !scope.workdir_set && !is_absolute(&expanded) {
                    cx.report(
                        &WORKDIR_RELATIVE_PATH,
                        at,
                        path.span,
                        format!(
                            "Relative workdir {} can have unexpected results if the base image changes",
                            go_quote(&expanded)
                        ),
                        None,
                    );
                }
            }
            scope.workdir_set = true;
        }
        InstructionKind::Env | InstructionKind::Label => {
            let is_env = ins.kind == InstructionKind::Env;
            undefined_vars(cx, at, scope, ins.variables.iter());
            if ins.legacy_key_value {
                for kv in &ins.key_values {
                    legacy_key_value(cx, idx, ins, kv);
                }
            }
            if is_env {
                let mut new = Vec::new();
                for kv in &ins.key_values {
                    secret_key(cx, at, "ENV", kv);
                    let raw = kv.value.as_deref().unwrap_or("");
                    let v = expand(raw, df.escape, &scope.lookup())
                        .map(|e| e.result)
                        .unwrap_or_else(|_| raw.to_string());
                    new.push((kv.key.clone(), v));
                }
                // All values see the ENV before the instruction.
                scope.env.extend(new);
            }
        }
        InstructionKind::Arg => {
            for kv in &ins.key_values {
                secret_key(cx, at, "ARG", kv);
                if let (Some(raw), Some(vspan)) = (&kv.value, kv.value_span) {
                    let refs = ins.variables.iter().filter(|v| vspan.contains_span(v.span));
                    undefined_vars(cx, at, scope, refs);
                    let v = expand(raw, df.escape, &scope.lookup())
                        .map(|e| e.result)
                        .unwrap_or_else(|_| raw.to_string());
                    scope.env.insert(kv.key.clone(), v);
                } else if let Some(v) = model.global_env.get(&kv.key) {
                    if model.meta_names.contains(&kv.key)
                        || super::PREDEFINED_ARGS.iter().any(|(k, _)| *k == kv.key)
                    {
                        scope.env.insert(kv.key.clone(), v.clone());
                    }
                }
                scope.args.insert(kv.key.clone());
            }
        }
        InstructionKind::Expose => expose(cx, idx, ins, scope),
        InstructionKind::Copy | InstructionKind::Add => {
            let expanded_flags = ["chown", "chmod", "checksum"];
            // Heredoc bodies are checked by `heredoc_vars`, which
            // expands them the way BuildKit does.
            let refs = ins.variables.iter().filter(|v| {
                match ins.flags.iter().find(|f| f.span.contains_span(v.span)) {
                    Some(f) => expanded_flags.contains(&f.name.as_str()),
                    None => !ins
                        .heredocs
                        .iter()
                        .any(|h| h.body_span.contains_span(v.span)),
                }
            });
            undefined_vars(cx, at, scope, refs);
            heredoc_vars(cx, at, scope, ins);
            copy_ignored(cx, at, ins, scope);
            if let Some((span, msg)) = copy_error(df.escape, ins, scope) {
                cx.error(span, msg);
            }
        }
        InstructionKind::User | InstructionKind::Stopsignal => {
            undefined_vars(cx, at, scope, ins.variables.iter());
        }
        InstructionKind::Volume => {
            undefined_vars(cx, at, scope, ins.variables.iter());
            // A path that expands to nothing stops the build (literal empty
            // ones are the parser's error).
            for w in ins.args.iter().filter(|w| w.value.contains('$')) {
                let empty =
                    expand(&w.value, df.escape, &scope.lookup()).is_ok_and(|e| e.result.is_empty());
                if empty {
                    cx.error(
                        w.span,
                        "VOLUME specified can not be an empty string".to_string(),
                    );
                }
            }
        }
        InstructionKind::Run => {
            let refs = ins.variables.iter().filter(|v| {
                ins.flags_named("mount")
                    .any(|f| f.span.contains_span(v.span))
            });
            undefined_vars(cx, at, scope, refs);
            for f in ins.flags_named("mount") {
                let lookup = scope.lookup();
                let expand_value = |v: &str| expand(v, df.escape, &lookup).ok().map(|e| e.result);
                if let Some(msg) =
                    super::mount::mount_error(&f.options(), &expand_value, &scope.workdir)
                {
                    cx.error(f.span, msg);
                }
            }
        }
        _ => {}
    }
}

fn undefined_vars<'r>(
    cx: &mut Cx,
    at: Option<usize>,
    scope: &Scope,
    refs: impl Iterator<Item = &'r VarRef>,
) {
    for v in refs {
        if let Some((msg, hint)) = undefined_message(scope, &v.name) {
            let fix = hint.map(|h| rename_var(v.name_span, &v.name, h));
            cx.report(&UNDEFINED_VAR, at, v.span, msg, fix);
        }
    }
}

/// The fix of a `did you mean` finding: the reference renamed to the
/// suggestion.
pub(super) fn rename_var(name_span: Span, name: &str, wanted: String) -> Fix {
    Fix {
        title: format!("Change '{name}' to '{wanted}'"),
        edits: vec![Edit {
            span: name_span,
            new_text: wanted,
        }],
    }
}

/// The UndefinedVar message for `name` and the name it suggests, or `None`
/// when it is defined (or, on an external base image, could come from the
/// image's ENV).
fn undefined_message(scope: &Scope, name: &str) -> Option<(String, Option<String>)> {
    if scope.env.contains_key(name) || scope.args.contains(name) || NON_ENV_ARGS.contains(&name) {
        return None;
    }
    // Suggestions cost one comparison per known name: skipped for huge
    // scopes so a hostile file stays linear.
    let hint = if scope.env.len() <= MAX_SUGGEST_SCOPE {
        suggest(name, scope.env.keys().map(CompactString::as_str), true)
    } else {
        None
    };
    // The external image's ENV is unknown: an upper-case name may come from
    // it (`$PYTHON_VERSION` in `FROM python`); report it only as a likely
    // typo. Lower-case names are build arguments by convention: report.
    if scope.external && hint.is_none() && !name.chars().any(|c| c.is_lowercase()) {
        return None;
    }
    let text = hint
        .as_ref()
        .map(|s| format!(" (did you mean ${s}?)"))
        .unwrap_or_default();
    Some((format!("Usage of undefined variable '${name}'{text}"), hint))
}

/// Variables in expanded heredoc bodies of COPY/ADD (BuildKit's `ExpandRaw`).
fn heredoc_vars(cx: &mut Cx, at: Option<usize>, scope: &Scope, ins: &Instruction) {
    for h in ins.heredocs.iter().filter(|h| h.expand) {
        // BuildKit expands heredoc bodies with a fresh backslash-escape lexer,
        // whatever `# escape=` says.
        let Ok(e) = expand_with(&h.body, '\\', true, &scope.lookup()) else {
            continue;
        };
        for name in &e.unmatched {
            let Some((msg, _)) = undefined_message(scope, name) else {
                continue;
            };
            // The parser collected the body's references: point at the first
            // one of that name, as for references on the instruction line.
            // No fix: the body may use the name more than once.
            let span = ins
                .variables
                .iter()
                .find(|v| v.name == *name && h.body_span.contains_span(v.span))
                .map_or(h.span, |v| v.span);
            cx.report(&UNDEFINED_VAR, at, span, msg, None);
        }
    }
}

fn used_once(cx: &mut Cx, idx: usize, ins: &Instruction, last: &mut Option<Span>) {
    if let Some(prev_span) = *last {
        // BuildKit points at the earlier one: it is the one that is ignored.
        cx.report(
            &MULTIPLE_INSTRUCTIONS_DISALLOWED,
            Some(idx),
            prev_span,
            format!(
                "Multiple {} instructions should not be used in the same stage because only the last one will be used",
                ins.keyword
            ),
            None,
        );
    }
    // A trigger sits where BuildKit puts it: on the stage's FROM.
    *last = Some(cx.relocate.unwrap_or(ins.line_span));
}

fn json_args(cx: &mut Cx, idx: usize, ins: &Instruction) {
    let fix = ins.args.first().and_then(|cmd| {
        // An exec form with the wrong quotes (`['a', 'b']`): BuildKit took
        // it for shell form; the fix writes the JSON it was meant to be.
        if cmd.value.trim_start().starts_with('[') {
            return repair_json_array(&cmd.value).map(|json| Fix {
                title: "Write the JSON array with double quotes".to_string(),
                edits: vec![Edit {
                    span: ins.rest_span,
                    new_text: json,
                }],
            });
        }
        // Only plain words split the same in JSON; anything shell-like
        // (quotes, variables, operators) needs a human.
        let plain = cmd
            .value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " \t-_./:=,+@%".contains(c));
        let words: Vec<&str> = cmd.value.split_whitespace().collect();
        if !plain || words.is_empty() {
            return None;
        }
        let json = serde_json::to_string(&words)
            .ok()?
            .replace("\",\"", "\", \"");
        Some(Fix {
            title: "Use the JSON (exec) form".to_string(),
            edits: vec![Edit {
                span: ins.rest_span,
                new_text: json,
            }],
        })
    });
    cx.report(
        &JSON_ARGS_RECOMMENDED,
        Some(idx),
        ins.rest_span,
        format!(
            "JSON arguments recommended for {} to prevent unintended behavior related to OS signals",
            ins.keyword
        ),
        fix,
    );
}

fn maintainer(cx: &mut Cx, idx: usize, ins: &Instruction) {
    let fix = ins.args.first().map(|a| {
        let label = if super::casing::is_lowercase(&ins.keyword) {
            "label"
        } else {
            "LABEL"
        };
        let value = a.value.replace('\\', "\\\\").replace('"', "\\\"");
        Fix {
            title: "Replace with LABEL org.opencontainers.image.authors".to_string(),
            edits: vec![Edit {
                span: ins.line_span,
                new_text: format!("{label} org.opencontainers.image.authors=\"{value}\""),
            }],
        }
    });
    cx.report(
        &MAINTAINER_DEPRECATED,
        Some(idx),
        ins.keyword_span,
        "Maintainer instruction is deprecated in favor of using label".to_string(),
        fix,
    );
}

fn legacy_key_value(cx: &mut Cx, idx: usize, ins: &Instruction, kv: &KeyValue) {
    let df = cx.df;
    let fix = kv.value_span.and_then(|vspan| {
        let value = df.text(vspan);
        let gap = Span::new(kv.key_span.end, vspan.start);
        let needs_quotes = value.contains(char::is_whitespace);
        if needs_quotes && value.contains(['"', '\'', df.escape]) {
            return None;
        }
        let mut edits = vec![Edit {
            span: gap,
            new_text: if needs_quotes { "=\"" } else { "=" }.to_string(),
        }];
        if needs_quotes {
            edits.push(Edit {
                span: Span::empty(vspan.end),
                new_text: "\"".to_string(),
            });
        }
        Some(Fix {
            title: "Use key=value".to_string(),
            edits,
        })
    });
    let name = &ins.keyword;
    cx.report(
        &LEGACY_KEY_VALUE_FORMAT,
        Some(idx),
        kv.span,
        format!(
            "\"{name} key=value\" should be used instead of legacy \"{name} key value\" format"
        ),
        fix,
    );
}

/// BuildKit's secret-name regexps: a `_`-separated part of the name is one
/// of the secret tokens, and none is an allow token.
fn is_secret_key(key: &str) -> bool {
    const DENY: [&str; 10] = [
        "apikey",
        "auth",
        "credential",
        "credentials",
        "key",
        "password",
        "pword",
        "passwd",
        "secret",
        "token",
    ];
    const ALLOW: [&str; 3] = ["public", "file", "version"];
    // Case-insensitive comparison instead of lower-cased copies: this runs
    // for every ARG and ENV key.
    let is = |list: &[&str], p: &str| list.iter().any(|t| t.eq_ignore_ascii_case(p));
    key.split('_').any(|p| is(&DENY, p)) && !key.split('_').any(|p| is(&ALLOW, p))
}

fn secret_key(cx: &mut Cx, at: Option<usize>, instruction: &str, kv: &KeyValue) {
    if is_secret_key(&kv.key) {
        cx.report(
            &SECRETS_USED_IN_ARG_OR_ENV,
            at,
            kv.key_span,
            format!(
                "Do not use ARG or ENV instructions for sensitive data ({instruction} {})",
                go_quote(&kv.key)
            ),
            None,
        );
    }
}

fn expose(cx: &mut Cx, idx: usize, ins: &Instruction, scope: &Scope) {
    let df = cx.df;
    for word in &ins.args {
        let literal = !word.value.contains('$');
        let expanded = if literal {
            word.value.to_string()
        } else {
            match expand(&word.value, df.escape, &scope.lookup()) {
                Ok(e) => e.result,
                Err(_) => continue,
            }
        };
        for raw in expanded.split_whitespace() {
            let parts: Vec<&str> = raw.split(':').collect();
            let n = parts.len();
            let (ip, host, container) = match n {
                1 => ("".to_string(), "", parts[0]),
                2 => ("".to_string(), parts[0], parts[1]),
                _ => (parts[..n - 2].join(":"), parts[n - 2], parts[n - 1]),
            };
            let (port, proto) = container.split_once('/').unwrap_or((container, ""));
            // BuildKit fails on these before its checks run.
            if port.is_empty() {
                cx.error(
                    word.span,
                    format!("invalid port: {raw:?}: no port specified"),
                );
                return;
            }
            if !matches!(
                proto.to_ascii_lowercase().as_str(),
                "" | "tcp" | "udp" | "sctp"
            ) {
                cx.error(
                    word.span,
                    format!("invalid port: {raw:?}: invalid proto: {proto}"),
                );
                return;
            }
            if proto != proto.to_ascii_lowercase() {
                let fix = literal.then(|| {
                    let start = word.span.start + word.value.len() - proto.len();
                    Fix {
                        title: format!("Change '{proto}' to '{}'", proto.to_ascii_lowercase()),
                        edits: vec![Edit {
                            span: Span::new(start, word.span.end),
                            new_text: proto.to_ascii_lowercase(),
                        }],
                    }
                });
                // The fix assumes the word is written as is in the source.
                let fix = fix.filter(|_| df.text(word.span) == word.value);
                cx.report(
                    &EXPOSE_PROTO_CASING,
                    Some(idx),
                    word.span,
                    format!("Defined protocol '{raw}' in EXPOSE instruction should be lowercase"),
                    fix,
                );
            }
            if !ip.is_empty() || !host.is_empty() {
                cx.report(
                    &EXPOSE_INVALID_FORMAT,
                    Some(idx),
                    word.span,
                    format!(
                        "EXPOSE instruction should not define an IP address or host-port mapping, found '{raw}'"
                    ),
                    None,
                );
            }
            // Then the build stops on what `parsePort` rejects.
            if let Some(msg) = port_error(&ip, host, port) {
                cx.error(word.span, msg);
                return;
            }
        }
    }
}

fn copy_ignored(cx: &mut Cx, at: Option<usize>, ins: &Instruction, scope: &Scope) {
    let Some(ignore) = cx.opts.dockerignore.clone() else {
        return;
    };
    // Exceptions make the answer depend on the tree: BuildKit stays silent.
    if ignore.has_exceptions() || (ins.kind == InstructionKind::Copy && ins.flag("from").is_some())
    {
        return;
    }
    let df = cx.df;
    let cmd = if ins.kind == InstructionKind::Add {
        "Add"
    } else {
        "Copy"
    };
    let sources: Vec<_> = ins
        .args
        .iter()
        .filter(|w| !w.value.starts_with("<<"))
        .collect();
    let Some((_, sources)) = sources.split_last() else {
        return;
    };
    let root_ignored = ignore
        .patterns()
        .iter()
        .any(|p| !p.is_exception() && matches!(p.text(), "*" | "**" | "**/*"));
    for src in sources {
        let value = expand(&src.value, df.escape, &scope.lookup())
            .map(|e| e.result)
            .unwrap_or_else(|_| src.value.to_string());
        if value.contains("://") || value.starts_with("git@") {
            continue;
        }
        let clean = clean_path(&value);
        let excluded = if clean == "." || clean == "/" {
            root_ignored
        } else if clean.starts_with('/') {
            // BuildKit matches the path as written: `/app` never matches the
            // (leading-slash-free) patterns, so it stays silent.
            false
        } else {
            ignore.is_excluded(&clean)
        };
        if excluded {
            cx.report(
                &COPY_IGNORED_FILE,
                at,
                src.span,
                format!(
                    "Attempting to {cmd} file {} that is excluded by .dockerignore",
                    go_quote(&clean)
                ),
                None,
            );
        }
    }
}

fn empty_continuations(cx: &mut Cx) {
    let df = cx.df;
    for ins in &df.instructions {
        let Some(last_empty) = ins.empty_continuation_lines.last() else {
            continue;
        };
        // BuildKit reports once per instruction, on the last line its
        // scanner read for the logical line (`currentLine` after the
        // continuation loop): the line that ends the instruction, or the
        // last empty/comment line when the file ends inside it.
        let lines = &df.line_index;
        let mut line = lines
            .line_of(ins.line_span.end.saturating_sub(1).max(ins.line_span.start))
            .max(lines.line_of(last_empty.start));
        if let Some(c) = ins.comment_lines.last() {
            line = line.max(lines.line_of(c.start));
        }
        let span = df
            .line_index
            .line_span(line)
            .map_or(*last_empty, |l| trim_line(&df.source, l));
        let edits = ins
            .empty_continuation_lines
            .iter()
            .map(|s| Edit {
                span: with_line_break(&df.source, *s),
                new_text: String::new(),
            })
            .collect();
        cx.report(
            &NO_EMPTY_CONTINUATION,
            None,
            span,
            "Empty continuation line".to_string(),
            Some(Fix {
                title: "Remove empty continuation lines".to_string(),
                edits,
            }),
        );
    }
}

fn definition_descriptions(cx: &mut Cx, model: &Model) {
    let df = cx.df;
    let check = |cx: &mut Cx, idx: usize, instruction: &str, keys: Vec<String>| {
        let Some(last) = cx.prev_comments(idx).last() else {
            return;
        };
        if keys.is_empty() {
            return;
        }
        let first = last.split(' ').next().unwrap_or("");
        if keys.iter().any(|k| k == first) {
            return;
        }
        let example = if keys.len() > 1 {
            "<arg_key>"
        } else {
            keys[0].as_str()
        };
        let msg = format!(
            "Comment for {instruction} should follow the format: `# {example} <description>`"
        );
        cx.report(
            &INVALID_DEFINITION_DESCRIPTION,
            Some(idx),
            df.instructions[idx].line_span,
            msg,
            None,
        );
    };
    for st in &model.stages {
        if let Some(name) = &st.name {
            check(cx, st.from_idx, "FROM", vec![name.to_string()]);
        }
    }
    for (idx, ins) in df.instructions.iter().enumerate() {
        if ins.kind == InstructionKind::Arg && !cx.prev_comments(idx).is_empty() {
            let keys = ins.key_values.iter().map(|kv| kv.key.to_string()).collect();
            check(cx, idx, "ARG", keys);
        }
    }
}

/// An ONBUILD trigger as BuildKit keeps it (`OnbuildCommand.Expression`):
/// the logical line after `ONBUILD` (continuations joined, empty and comment
/// lines dropped, so the file's `# escape=` no longer matters), then the
/// heredoc bodies.
fn trigger_text(
    df: &crate::dockerfile::Dockerfile,
    outer: &Instruction,
    trigger: &Instruction,
) -> String {
    let logical_end = outer.line_span.end.max(trigger.line_span.start);
    let raw = df.text(Span::new(trigger.line_span.start, logical_end));
    let mut out = String::with_capacity(raw.len());
    for (i, line) in raw.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let t = line.trim_start();
        if i > 0 && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        let body = line.trim_end_matches([' ', '\t']);
        match body.strip_suffix(df.escape) {
            Some(joined) => out.push_str(joined),
            None => out.push_str(line),
        }
    }
    out.push_str(df.text(Span::new(logical_end, outer.span.end)));
    out
}

/// What `dispatchCopy` refuses before copying: a `--chmod` that is not an
/// octal mode up to 07777 (symbolic modes are left alone), a `--checksum`
/// on COPY, on several sources, or on a source that is not a URL or Git.
fn copy_error(escape: char, ins: &Instruction, scope: &Scope) -> Option<(Span, String)> {
    let value = |name: &str| {
        let f = ins.flag(name)?;
        let v = f.value.as_deref()?;
        let v = expand(v, escape, &scope.lookup())
            .map(|e| e.result)
            .unwrap_or_else(|_| v.to_string());
        Some((f.span, v))
    };
    if let Some((span, chmod)) = value("chmod").filter(|(_, v)| !v.is_empty()) {
        let bad = match u32::from_str_radix(&chmod, 8) {
            Ok(p) => p > 0o7777,
            // A numeric-looking value that is not octal (`8`, `99999999999`).
            Err(_) => chmod.bytes().all(|b| b.is_ascii_digit()),
        };
        if bad {
            return Some((
                span,
                format!("invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777"),
            ));
        }
    }
    let (span, checksum) = value("checksum").filter(|(_, v)| !v.is_empty())?;
    if ins.kind == InstructionKind::Copy {
        return Some((span, "checksum can't be specified for COPY".into()));
    }
    let words: Vec<&str> = ins
        .args
        .iter()
        .map(|w| w.value.as_str())
        .filter(|w| !w.starts_with("<<"))
        .collect();
    let sources = words.split_last().map_or(&[][..], |(_, s)| s);
    if sources.len() != 1 {
        return Some((
            span,
            "checksum can't be specified for multiple sources".into(),
        ));
    }
    let src = expand(sources[0], escape, &scope.lookup())
        .map(|e| e.result)
        .unwrap_or_else(|_| sources[0].to_string());
    let git = src.starts_with("git@")
        || src.starts_with("git://")
        || src.starts_with("ssh://")
        || ((src.starts_with("https://") || src.starts_with("http://"))
            && (src.contains(".git#") || src.ends_with(".git")));
    let http = src.starts_with("http://") || src.starts_with("https://");
    if !git && !http {
        return Some((span, "checksum requires HTTP(S) or Git sources".into()));
    }
    // An HTTP source's checksum must be a digest (`digest.Parse`).
    if git {
        return None;
    }
    digest_error(&checksum).map(|m| (span, m.to_string()))
}

/// go-digest's `Validate`, in its words.
fn digest_error(d: &str) -> Option<&'static str> {
    const FORMAT: &str = "invalid checksum digest format";
    let Some((alg, hex)) = d
        .split_once(':')
        .filter(|(a, h)| !a.is_empty() && !h.is_empty())
    else {
        return Some(FORMAT);
    };
    let size = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => {
            let alg_ok = alg.split(['.', '+', '_', '-']).all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            });
            let hex_ok = hex
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'));
            return Some(if alg_ok && hex_ok {
                "unsupported digest algorithm"
            } else {
                FORMAT
            });
        }
    };
    if hex.len() != size {
        return Some("invalid checksum digest length");
    }
    (!hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))).then_some(FORMAT)
}

/// BuildKit's `parsePort` errors after the protocol: the IP address, the
/// container port (range), the host port (range).
fn port_error(ip: &str, host: &str, port: &str) -> Option<String> {
    if !ip.is_empty() {
        let bare = ip
            .strip_prefix('[')
            .and_then(|i| i.strip_suffix(']'))
            .unwrap_or(ip);
        if bare.parse::<std::net::IpAddr>().is_err() {
            return Some(format!("invalid IP address: {bare}"));
        }
    }
    let Some((start, end)) = port_range(port) else {
        return Some(format!("invalid containerPort: {port}"));
    };
    if !host.is_empty() {
        let Some((hs, he)) = port_range(host) else {
            return Some(format!("invalid hostPort: {host}"));
        };
        if end - start != he - hs && end != start {
            return Some(format!(
                "invalid ranges specified for container and host Ports: {port} and {host}"
            ));
        }
    }
    None
}

/// `8000` or `8000-9000` as BuildKit's `parsePortRange` reads it.
fn port_range(p: &str) -> Option<(i64, i64)> {
    let number = |s: &str| s.parse::<i64>().ok().filter(|n| (0..=65535).contains(n));
    if p.is_empty() {
        return None;
    }
    let (start, end) = match p.split_once('-') {
        Some((a, b)) => (a, Some(b)),
        None => (p, None),
    };
    let s = number(start)?;
    match end {
        None => Some((s, s)),
        Some(e) if e == start => Some((s, s)),
        Some(e) => {
            let e = number(e)?;
            (e >= s).then_some((s, e))
        }
    }
}

/// A line's span without its line break and surrounding blanks.
fn trim_line(src: &str, line: Span) -> Span {
    let text = line.slice(src);
    let body = text.trim_end_matches(['\r', '\n']);
    let start = body.len() - body.trim_start().len();
    let end = body.trim_end().len().max(start);
    Span::new(line.start + start, line.start + end)
}

/// A span of a whole line extended over its line break.
fn with_line_break(src: &str, span: Span) -> Span {
    let tail = src.get(span.end..).unwrap_or("");
    let n = if tail.starts_with("\r\n") {
        2
    } else if tail.starts_with('\n') || tail.starts_with('\r') {
        1
    } else {
        0
    };
    Span::new(span.start, span.end + n)
}

/// Absolute for Linux, and for Windows containers (`C:\`, `\`), which
/// BuildKit judges by the stage's platform.
fn is_absolute(p: &str) -> bool {
    let b = p.as_bytes();
    p.starts_with('/')
        || p.starts_with('\\')
        || (b.len() >= 3
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && (b[2] == b'\\' || b[2] == b'/'))
}

/// Go's `filepath.Clean` for slash paths (backslashes count as separators).
fn clean_path(p: &str) -> String {
    crate::dockerignore::clean(&p.replace('\\', "/"))
}

/// Go's `%q` for the plain strings these messages quote.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_follow_buildkit_regexps() {
        for k in [
            "api_key",
            "DATABASE_PASSWORD",
            "GITHUB_TOKEN",
            "secret_MESSAGE",
            "AUTH",
            "aws_apikey",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "PUBLIC_KEY",
            "KEY_FILE",
            "TOKEN_VERSION",
            "MONKEY",
            "tokens",
            "PASSWORDS",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn clean_path_matches_go() {
        assert_eq!(clean_path("./a/../b//c/"), "b/c");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path(""), ".");
        assert_eq!(clean_path("../a"), "../a");
        assert_eq!(clean_path("/"), "/");
    }

    #[test]
    fn absolute_paths() {
        assert!(is_absolute("/app") && is_absolute("C:\\app") && is_absolute("c:/x"));
        assert!(!is_absolute("app") && !is_absolute("./app") && !is_absolute(""));
    }

    #[test]
    fn go_quote_escapes() {
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }
}
