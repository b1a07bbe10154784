//! The FROM line: UndefinedArgInFrom, InvalidDefaultArgInFrom,
//! RedundantTargetPlatform, FromPlatformFlagConstDisallowed.

use super::{expand_global, Model};
use crate::dockerfile::checks::expand::suggest;
use crate::dockerfile::checks::reference::{is_valid_image_reference, parse_platform};
use crate::dockerfile::checks::{
    Cx, Edit, Fix, FROM_PLATFORM_FLAG_CONST_DISALLOWED, INVALID_DEFAULT_ARG_IN_FROM,
    REDUNDANT_TARGET_PLATFORM, UNDEFINED_ARG_IN_FROM,
};
use crate::dockerfile::syntax::{CompactString, Instruction};
use crate::dockerfile::text::Span;

pub(super) fn check(cx: &mut Cx, model: &Model) {
    build_errors(cx, model);
    let df = cx.df;
    // Keys a FROM may use: declared global ARGs and the predefined ones.
    let mut keys: Vec<&str> = model
        .meta_names
        .iter()
        .map(CompactString::as_str)
        .chain(model.global_env.keys().map(CompactString::as_str))
        .collect();
    keys.sort_unstable();
    keys.dedup();

    for st in &model.stages {
        let Some(from) = &st.from.from else { continue };
        let at = Some(st.from_idx);
        if let Some(e) = &st.base_expansion {
            report_undeclared(cx, st.from, at, from.image.span, &e.unmatched, &keys);
        }
        let Some(platform) = st.from.flag("platform") else {
            continue;
        };
        let (Some(value), Some(vspan)) = (&platform.value, platform.value_span) else {
            continue;
        };
        let Some(e) = expand_global(df, &model.global_env, value) else {
            continue;
        };
        report_undeclared(cx, st.from, at, vspan, &e.unmatched, &keys);

        // `--platform=$TARGETPLATFORM`: the only variable, and it expanded.
        if e.unmatched.is_empty()
            && e.matched.len() == 1
            && e.matched.contains(&"TARGETPLATFORM")
            && model.global_env.get("TARGETPLATFORM") == Some(&e.result)
        {
            let remove = span_with_trailing_space(&df.source, platform.span);
            cx.report(
                &REDUNDANT_TARGET_PLATFORM,
                at,
                vspan,
                format!(
                    "Setting platform to predefined {value} in FROM is redundant as this is the default behavior"
                ),
                Some(Fix {
                    title: "Remove the --platform flag".to_string(),
                    edits: vec![Edit {
                        span: remove,
                        new_text: String::new(),
                    }],
                }),
            );
        }

        if e.matched.is_empty() && e.unmatched.is_empty() {
            if let Some(p) = parse_platform(&e.result) {
                let name = st.name.as_deref().unwrap_or("");
                // `FROM --platform=linux/arm64 img AS build-arm64` is deliberate.
                if !name.contains(p.os.as_str()) && !name.contains(p.arch.as_str()) {
                    cx.report(
                        &FROM_PLATFORM_FLAG_CONST_DISALLOWED,
                        at,
                        vspan,
                        format!(
                            "FROM --platform flag should not use constant value {:?}",
                            e.result
                        ),
                        None,
                    );
                }
            }
        }
    }

    // Base names with only the ARG defaults must be valid references
    // (file-wide in BuildKit; it gives up at the first expansion error).
    for st in &model.stages {
        let Some(from) = &st.from.from else { continue };
        let Some(e) = &st.base_expansion else {
            return;
        };
        if !is_valid_image_reference(&e.result) {
            cx.report(
                &INVALID_DEFAULT_ARG_IN_FROM,
                None,
                from.image.span,
                format!(
                    "Default value for ARG {} results in empty or invalid base image name",
                    from.image.value
                ),
                None,
            );
        }
    }
}

fn report_undeclared(
    cx: &mut Cx,
    ins: &Instruction,
    at: Option<usize>,
    within: Span,
    unmatched: &std::collections::BTreeSet<&str>,
    keys: &[&str],
) {
    for arg in unmatched {
        if keys.binary_search(arg).is_ok() {
            continue;
        }
        let var = ins
            .variables
            .iter()
            .find(|v| v.name == *arg && within.contains_span(v.span));
        let span = var.map_or(within, |v| v.span);
        let suggestion = suggest(arg, keys.iter().copied(), true);
        let hint = suggestion
            .as_ref()
            .map(|s| format!(" (did you mean {s}?)"))
            .unwrap_or_default();
        // Only the one reference is renamed: a fix for this finding only
        // when the name appears once in the FROM.
        let once = ins
            .variables
            .iter()
            .filter(|v| v.name == *arg && within.contains_span(v.span))
            .count()
            == 1;
        let fix = var
            .zip(suggestion)
            .filter(|_| once)
            .map(|(v, s)| super::stage::rename_var(v.name_span, arg, s));
        cx.report(
            &UNDEFINED_ARG_IN_FROM,
            at,
            span,
            format!("FROM argument '{arg}' is not declared{hint}"),
            fix,
        );
    }
}

/// `span` plus the spaces and tabs after it (so removing a flag leaves one
/// separator).
pub(super) fn span_with_trailing_space(src: &str, span: Span) -> Span {
    let tail = src.get(span.end..).unwrap_or("");
    let n = tail.len() - tail.trim_start_matches([' ', '\t']).len();
    Span::new(span.start, span.end + n)
}

/// The FROM errors that stop BuildKit's build before any step runs
/// (`buildDispatchStates`, `resolveBaseImage`), with the ARG defaults:
/// a base that expands to nothing, a `--platform` that expands to nothing,
/// a base image name that is not a valid reference.
fn build_errors(cx: &mut Cx, model: &Model) {
    let df = cx.df;
    let keys: Vec<&str> = model.global_env.keys().map(CompactString::as_str).collect();
    for st in &model.stages {
        let Some(from) = &st.from.from else { continue };
        let Some(e) = &st.base_expansion else {
            continue;
        };
        let span = cx.on_first_line(from.image.span);
        if e.result.is_empty() {
            cx.error(
                span,
                format!("base name ({}) should not be blank", from.image.value),
            );
            continue;
        }
        if let Some(flag) = st.from.flag("platform") {
            if let (Some(v), Some(vspan)) = (&flag.value, flag.value_span) {
                if let Some(p) = expand_global(df, &model.global_env, v) {
                    if p.result.is_empty() && !v.is_empty() {
                        // BuildKit suggests a global ARG for the first
                        // unmatched name that is close to one.
                        let hint = p
                            .unmatched
                            .iter()
                            .find_map(|u| suggest(u, keys.iter().copied(), true))
                            .map(|s| format!(" (did you mean {s}?)"))
                            .unwrap_or_default();
                        let span = cx.on_first_line(vspan);
                        cx.error(
                            span,
                            format!("empty platform value from expression {v}{hint}"),
                        );
                        continue;
                    }
                    if let Some(why) = platform_error(&p.result) {
                        let hint = p
                            .unmatched
                            .iter()
                            .find_map(|u| suggest(u, keys.iter().copied(), true))
                            .map(|s| format!(" (did you mean {s}?)"))
                            .unwrap_or_default();
                        let span = cx.on_first_line(vspan);
                        cx.error(span, format!("failed to parse platform {v}: {why}{hint}"));
                        continue;
                    }
                }
            }
        }
        // BuildKit compares with `scratch` exactly; stage names match
        // case-insensitively (the model's parent).
        if st.parent.is_some() || e.result == "scratch" {
            continue;
        }
        if let Some(why) = reference_error(&e.result) {
            cx.error(
                span,
                format!("failed to parse stage name {}: {why}", go_quote(&e.result)),
            );
        }
    }
}

/// Why `distribution/reference.ParseNormalizedNamed` rejects `s`, in its
/// words; `None` when it parses.
fn reference_error(s: &str) -> Option<String> {
    if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Some(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        ));
    }
    // splitDockerDomain: a first component without `.`/`:`, not
    // `localhost` and lower-case is a Docker Hub path.
    let (hub, remainder) = match s.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (false, rest)
        }
        _ => (true, s),
    };
    let remote = remainder.split(':').next().unwrap_or(remainder);
    if remote.to_lowercase() != remote {
        let remote = if hub && !remote.contains('/') {
            format!("library/{remote}")
        } else {
            remote.to_string()
        };
        return Some(format!(
            "invalid reference format: repository name ({remote}) must be lowercase"
        ));
    }
    (!is_valid_image_reference(s)).then(|| "invalid reference format".to_string())
}

/// Go's `%q` for the plain strings these messages quote.
fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// containerd's `platforms.Parse` error for `spec`, in its words; `None`
/// when it parses.
fn platform_error(spec: &str) -> Option<String> {
    const OS_RE: &str = r"^([A-Za-z0-9_-]+)(?:\(([A-Za-z0-9_.%-]*)((?:\+[A-Za-z0-9_.%-]+)*)\))?$";
    const SPEC_RE: &str = r"^[A-Za-z0-9_.-]+$";
    static RES: std::sync::OnceLock<Option<(regex::Regex, regex::Regex)>> =
        std::sync::OnceLock::new();
    let (os_re, spec_re) = RES
        .get_or_init(|| {
            Some((
                regex::Regex::new(OS_RE).ok()?,
                regex::Regex::new(SPEC_RE).ok()?,
            ))
        })
        .as_ref()?;
    if spec.contains('*') {
        return Some(format!(
            "{spec:?}: wildcards not yet supported: invalid argument"
        ));
    }
    let parts: Vec<&str> = spec.splitn(4, '/').collect();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 && !os_re.is_match(part) {
            return Some(format!(
                "{part:?} is an invalid OS component of {spec:?}: OSAndVersion specifier component must match {OS_RE:?}: invalid argument"
            ));
        }
        if i > 0 && !spec_re.is_match(part) {
            return Some(format!(
                "{part:?} is an invalid component of {spec:?}: platform specifier component must match {SPEC_RE:?}: invalid argument"
            ));
        }
    }
    match parts.len() {
        1 => {
            let os = crate::platform::normalize_os(parts[0]);
            let arch = crate::platform::normalize_arch(parts[0], "").0;
            let known = crate::platform::KNOWN_OS.contains(&os.as_str())
                || crate::platform::KNOWN_ARCH.contains(&arch.as_str());
            (!known).then(|| {
                format!("{spec:?}: unknown operating system or architecture: invalid argument")
            })
        }
        2 | 3 => None,
        _ => Some(format!(
            "{spec:?}: cannot parse platform specifier: invalid argument"
        )),
    }
}
