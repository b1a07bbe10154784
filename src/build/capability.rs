//! Capability findings: what a configured build asks for that the selected
//! builder cannot do, found before building, with the place to show it (the
//! Dockerfile's target stage, the bake attribute) and the fixes to offer.
//!
//! The refusals (cache export, multi-platform, tarball output) are
//! `BuildSpec::refusals`, the rules that refuse the build itself, read
//! against the driver capability table (`driver::features`); the message is
//! built from the table's feature title, driver and the drivers that have the
//! feature, never from a second copy of the table. The no-output warning is
//! `BuildSpec::no_output_warning`, word for word.
//!
//! The table's "BuildKit configuration" row applies when a builder is created
//! (buildkitd flags, `buildkitd.toml`); no build attribute asks for it, so no
//! finding of a build uses it (`BuilderConfig` is reserved for the LSP
//! layer's builder creation).

use crate::dockerfile::model::{DefKind, AUTOMATIC_PLATFORM_ARGS, BUILTIN_ARGS};
use crate::dockerfile::{Model, Span};
use crate::driver::features::table;
use crate::driver::{DriverKind, Feature, Features, Refusal, Support};

use super::bake::{replace_attribute, BakeEdit, Origin};
use super::config::ConfiguredBuild;
use super::spec::{AskedBy, BuildSpec};

/// The diagnostic codes of the findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingCode {
    BuilderCacheExport,
    BuilderMultiPlatform,
    BuilderTarballOutput,
    BuilderLoadMissing,
    BuilderConfig,
    BuilderPlatform,
    BuilderTargetMissing,
    BuilderArgUndeclared,
    BuilderAttestations,
}

impl FindingCode {
    /// The code as the diagnostic carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingCode::BuilderCacheExport => "BuilderCacheExport",
            FindingCode::BuilderMultiPlatform => "BuilderMultiPlatform",
            FindingCode::BuilderTarballOutput => "BuilderTarballOutput",
            FindingCode::BuilderLoadMissing => "BuilderLoadMissing",
            FindingCode::BuilderConfig => "BuilderConfig",
            FindingCode::BuilderPlatform => "BuilderPlatform",
            FindingCode::BuilderTargetMissing => "BuilderTargetMissing",
            FindingCode::BuilderArgUndeclared => "BuilderArgUndeclared",
            FindingCode::BuilderAttestations => "BuilderAttestations",
        }
    }

    /// The table row behind a code, for the refusal codes.
    pub fn feature(self) -> Option<Feature> {
        match self {
            FindingCode::BuilderCacheExport => Some(Feature::CacheExport),
            FindingCode::BuilderMultiPlatform => Some(Feature::MultiPlatform),
            FindingCode::BuilderTarballOutput => Some(Feature::TarballOutput),
            FindingCode::BuilderLoadMissing => Some(Feature::AutomaticLoad),
            FindingCode::BuilderConfig => Some(Feature::BuildkitConfig),
            FindingCode::BuilderAttestations => Some(Feature::Attestations),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The build would be refused or fail.
    Error,
    /// The build runs but likely not as meant.
    Warning,
}

/// A quick fix the editor can offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapabilityFix {
    /// Select a builder whose driver has the feature (the LSP layer lists
    /// them by name).
    SwitchBuilder { feature: Feature },
    /// Select a builder whose nodes offer the platform.
    SwitchBuilderWithPlatform { platform: String },
    /// Create (and select) a docker-container builder.
    CreateDockerContainerBuilder,
    /// Load the result into the engine: the bake edit adding
    /// `output = ["type=docker"]`, or (no edit) `buildkit.build.load: true`.
    AddLoad { edit: Option<BakeEdit> },
    /// Export the cache inline: the bake edit rewriting `cache-to`, or (no
    /// edit) `buildkit.build.cacheTo: ["type=inline"]`.
    CacheToInline { edit: Option<BakeEdit> },
}

/// One finding about one configured build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapabilityFinding {
    pub code: FindingCode,
    pub severity: Severity,
    pub message: String,
    /// Byte span in the Dockerfile: the target stage's FROM line, or an
    /// empty span at offset 0 (line 0) when the build names no stage or the
    /// stage does not exist.
    pub dockerfile_range: Span,
    /// The bake attribute (or target block) that asks for it.
    pub bake_origin: Option<Origin>,
    pub fixes: Vec<CapabilityFix>,
}

/// The findings of one configured build of `dockerfile` against a builder:
/// its driver's `features` and the platforms its nodes offer (empty:
/// unknown, no platform finding).
pub fn findings(
    build: &ConfiguredBuild,
    dockerfile: &Model,
    features: &Features,
    node_platforms: &[String],
) -> Vec<CapabilityFinding> {
    let spec = &build.spec;
    let at = dockerfile_range(spec, dockerfile);
    let mut out = Vec::new();

    // The refusals, in the editor's order: cache exports (one finding per
    // refused entry), platforms, outputs, attestations.
    let refusals = spec.refusals(features);
    for feature in [
        Feature::CacheExport,
        Feature::MultiPlatform,
        Feature::TarballOutput,
        Feature::Attestations,
    ] {
        for r in refusals.iter().filter(|r| r.refusal.feature == feature) {
            let (code, attribute) = match r.asked_by {
                AskedBy::CacheTo(_) => (FindingCode::BuilderCacheExport, "cache-to"),
                AskedBy::Platforms => (FindingCode::BuilderMultiPlatform, "platforms"),
                AskedBy::Output(_) => (FindingCode::BuilderTarballOutput, "output"),
                AskedBy::Attest(_) => (FindingCode::BuilderAttestations, "attest"),
            };
            let origin = build.origin(attribute).cloned();
            let mut fixes = switch_fixes(feature);
            if feature == Feature::CacheExport
                && features.support(Feature::CacheExport) == Support::InlineOnly
            {
                let edit = origin
                    .as_ref()
                    .map(|o| replace_attribute(o, "cache-to", "[\"type=inline\"]"));
                fixes.push(CapabilityFix::CacheToInline { edit });
            }
            out.push(CapabilityFinding {
                code,
                severity: Severity::Error,
                message: refusal_message(features, &r.refusal, Some(&spec.asked(r.asked_by))),
                dockerfile_range: at,
                bake_origin: origin,
                fixes,
            });
        }
    }

    if let Some(message) = spec.no_output_warning(features) {
        let edit = build
            .insertion
            .as_ref()
            .map(|i| i.attribute("output", "[\"type=docker\"]"));
        out.push(CapabilityFinding {
            code: FindingCode::BuilderLoadMissing,
            severity: Severity::Warning,
            message,
            dockerfile_range: at,
            bake_origin: build.block_name.clone(),
            fixes: vec![CapabilityFix::AddLoad { edit }],
        });
    }

    if !node_platforms.is_empty() {
        let offered: Vec<String> = node_platforms
            .iter()
            .map(|p| normalize_platform(p))
            .collect();
        for p in &spec.platforms {
            if !offered.contains(&normalize_platform(p)) {
                out.push(CapabilityFinding {
                    code: FindingCode::BuilderPlatform,
                    severity: Severity::Warning,
                    message: format!(
                        "Platform {p} is not offered by the {} builder's nodes ({}). Switch to a builder that offers it.",
                        features.kind,
                        node_platforms.join(", ")
                    ),
                    dockerfile_range: at,
                    bake_origin: build.origin("platforms").cloned(),
                    fixes: vec![CapabilityFix::SwitchBuilderWithPlatform {
                        platform: p.clone(),
                    }],
                });
            }
        }
    }

    if let Some(target) = &spec.target {
        if dockerfile.stage_by_name(target).is_none() {
            out.push(CapabilityFinding {
                code: FindingCode::BuilderTargetMissing,
                severity: Severity::Error,
                message: format!("target stage \"{target}\" could not be found"),
                dockerfile_range: at,
                bake_origin: build.origin("target").cloned(),
                fixes: Vec::new(),
            });
        }
    }

    for name in spec.build_args.keys() {
        if !is_declared_or_builtin(dockerfile, name) {
            out.push(CapabilityFinding {
                code: FindingCode::BuilderArgUndeclared,
                severity: Severity::Warning,
                message: format!(
                    "Build-arg \"{name}\" is not declared by any ARG in the Dockerfile, so the build ignores it"
                ),
                dockerfile_range: at,
                bake_origin: build.origin("args").cloned(),
                fixes: Vec::new(),
            });
        }
    }
    out
}

/// The refusal in the editor's words: the table's feature title and driver,
/// what the driver does offer, and the builder kinds that have the feature.
/// E.g. "Cache export (type=registry) is not supported for the docker driver:
/// only inline cache. Switch to a docker-container, kubernetes or remote
/// builder."
pub fn refusal_message(features: &Features, refusal: &Refusal, detail: Option<&str>) -> String {
    let title = match detail {
        Some(d) => format!("{} ({d})", refusal.subject),
        None => refusal.subject.to_string(),
    };
    let offered = match features.support(refusal.feature) {
        Support::InlineOnly => ": only inline cache",
        _ => "",
    };
    let kinds = drivers_with(refusal.feature);
    format!(
        "{title} is not supported for the {} driver{offered}. Switch to a {} builder.",
        refusal.driver,
        or_list(&kinds)
    )
}

/// The driver kinds whose table cell for a feature is "yes".
pub fn drivers_with(feature: Feature) -> Vec<DriverKind> {
    DriverKind::ALL
        .into_iter()
        .filter(|k| table(*k, feature) == Support::Yes)
        .collect()
}

fn or_list(kinds: &[DriverKind]) -> String {
    let names: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn switch_fixes(feature: Feature) -> Vec<CapabilityFix> {
    let mut fixes = vec![CapabilityFix::SwitchBuilder { feature }];
    if table(DriverKind::DockerContainer, feature) == Support::Yes {
        fixes.push(CapabilityFix::CreateDockerContainerBuilder);
    }
    fixes
}

/// The target stage's FROM line (keyword to the last word of the line), or
/// an empty span at 0.
fn dockerfile_range(spec: &BuildSpec, model: &Model) -> Span {
    let Some(stage) = spec.target.as_deref().and_then(|t| model.stage_by_name(t)) else {
        return Span::empty(0);
    };
    let mut end = stage.base.span.end;
    if let Some(n) = &stage.name {
        end = end.max(n.span.end);
    }
    if let Some((_, s)) = &stage.platform {
        end = end.max(s.end);
    }
    Span::new(stage.span.start, end)
}

/// `linux/arm64/v8` is how nodes often list `linux/arm64`.
fn normalize_platform(p: &str) -> String {
    let p = p.trim().to_ascii_lowercase();
    match p.strip_suffix("/v8") {
        Some(base) if base.ends_with("/arm64") => base.to_string(),
        _ => p,
    }
}

fn is_declared_or_builtin(model: &Model, name: &str) -> bool {
    // BuildKit matches build-arg names case-sensitively, except that the
    // proxy family is predefined in both spellings (listed in BUILTIN_ARGS).
    AUTOMATIC_PLATFORM_ARGS.contains(&name)
        || BUILTIN_ARGS.contains(&name)
        || model
            .definitions
            .iter()
            .any(|d| d.name == name && matches!(d.kind, DefKind::GlobalArg | DefKind::Arg))
}
