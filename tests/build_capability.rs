//! Capability findings of configured builds against the docker and
//! docker-container drivers' rows of the capability table: each finding
//! present where the driver lacks the feature and absent where it has it,
//! with its message, Dockerfile range, bake attribute and fixes.

#[path = "support/bake.rs"]
mod bake_files;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use buildkit_lsp::build::bake::{Bake, BakeEdit, Origin};
use buildkit_lsp::build::capability::{
    findings, CapabilityFinding, CapabilityFix, FindingCode, Severity,
};
use buildkit_lsp::build::config::{
    bake_target_spec, configured_builds, BuildSettings, ConfiguredBuild,
};
use buildkit_lsp::dockerfile::{Model, Position, Range, Span};
use buildkit_lsp::driver::{DriverKind, Feature, Features};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bake/capability")
}

fn dockerfile_text() -> String {
    std::fs::read_to_string(dir().join("Dockerfile")).unwrap()
}

fn model() -> Model {
    Model::build(&buildkit_lsp::dockerfile::parse(&dockerfile_text()))
}

fn bake() -> Bake {
    bake_files::load_folder(&dir(), &BTreeMap::new()).unwrap()
}

fn target(name: &str) -> ConfiguredBuild {
    bake_target_spec(&bake(), name).unwrap()
}

fn docker() -> Features {
    Features::of(DriverKind::Docker)
}

fn container() -> Features {
    Features::of(DriverKind::DockerContainer)
}

fn range(l1: u32, c1: u32, l2: u32, c2: u32) -> Range {
    Range::new(Position::new(l1, c1), Position::new(l2, c2))
}

/// The byte span of a line of the Dockerfile fixture, found by its text.
fn line_span(line: &str) -> Span {
    let text = dockerfile_text();
    let start = text.find(line).unwrap();
    Span::new(start, start + line.len())
}

fn codes(found: &[CapabilityFinding]) -> Vec<FindingCode> {
    found.iter().map(|f| f.code).collect()
}

fn bake_range(f: &CapabilityFinding) -> Option<Range> {
    f.bake_origin.as_ref().map(|o| o.range)
}

#[test]
fn registry_cache_export_is_refused_on_docker_only() {
    let build = target("registry-cache");
    let found = findings(&build, &model(), &docker(), &[]);
    assert_eq!(codes(&found), vec![FindingCode::BuilderCacheExport]);
    let f = &found[0];
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(
        f.message,
        "Cache export (type=registry) is not supported for the docker driver: only inline cache. Switch to a docker-container, kubernetes or remote builder."
    );
    // On the target stage's FROM line, and on the cache-to attribute.
    assert_eq!(
        f.dockerfile_range,
        line_span("FROM busybox:test AS runtime")
    );
    let cache_to = dir().join("docker-bake.hcl");
    assert_eq!(
        f.bake_origin.as_ref().map(|o| (&o.file, o.range)),
        Some((&cache_to, range(2, 2, 2, 59)))
    );
    let replaced = Origin {
        file: cache_to,
        span: f.bake_origin.as_ref().unwrap().span,
        range: range(2, 2, 2, 59),
        // The bake file is ASCII: both encodings give the same columns.
        range_utf8: range(2, 2, 2, 59),
    };
    assert_eq!(
        f.fixes,
        vec![
            CapabilityFix::SwitchBuilder {
                feature: Feature::CacheExport
            },
            CapabilityFix::CreateDockerContainerBuilder,
            CapabilityFix::CacheToInline {
                edit: Some(BakeEdit {
                    origin: replaced,
                    new_text: "cache-to = [\"type=inline\"]".to_string(),
                })
            },
        ]
    );
    // The same table cell refuses the build itself.
    assert_eq!(
        build.spec.check(&docker()).unwrap_err().feature,
        FindingCode::BuilderCacheExport.feature().unwrap()
    );

    assert_eq!(findings(&build, &model(), &container(), &[]), vec![]);
    assert_eq!(build.spec.check(&container()), Ok(()));
}

#[test]
fn inline_cache_is_fine_everywhere() {
    let build = target("inline-cache");
    assert_eq!(findings(&build, &model(), &docker(), &[]), vec![]);
    assert_eq!(findings(&build, &model(), &container(), &[]), vec![]);
}

#[test]
fn multi_platform_and_tarball_on_docker_undeclared_arg_everywhere() {
    let build = target("multi");
    let from_build = line_span("FROM ${BASE} AS build");
    let found = findings(&build, &model(), &docker(), &[]);
    assert_eq!(
        codes(&found),
        vec![
            FindingCode::BuilderMultiPlatform,
            FindingCode::BuilderTarballOutput,
            FindingCode::BuilderArgUndeclared,
        ]
    );
    assert_eq!(
        found[0].message,
        "Multi-platform build (linux/amd64, linux/arm64) is not supported for the docker driver. Switch to a docker-container, kubernetes or remote builder."
    );
    assert_eq!(bake_range(&found[0]), Some(range(14, 2, 14, 44)));
    assert_eq!(
        found[1].message,
        "OCI exporter (type=oci) is not supported for the docker driver. Switch to a docker-container, kubernetes or remote builder."
    );
    assert_eq!(bake_range(&found[1]), Some(range(15, 2, 15, 36)));
    for f in &found[..2] {
        assert_eq!(f.severity, Severity::Error);
        assert_eq!(f.fixes[1], CapabilityFix::CreateDockerContainerBuilder);
    }
    // Only UNDECLARED: MODE is an ARG, HTTP_PROXY and TARGETARCH are BuildKit's.
    assert_eq!(found[2].severity, Severity::Warning);
    assert_eq!(
        found[2].message,
        "Build-arg \"UNDECLARED\" is not declared by any ARG in the Dockerfile, so the build ignores it"
    );
    assert_eq!(bake_range(&found[2]), Some(range(16, 2, 21, 3)));
    assert!(found.iter().all(|f| f.dockerfile_range == from_build));

    let found = findings(&build, &model(), &container(), &[]);
    assert_eq!(codes(&found), vec![FindingCode::BuilderArgUndeclared]);

    // A containerd-store engine lifts the docker driver's limits.
    let containerd = Features {
        containerd_store: true,
        ..Features::of(DriverKind::Docker)
    };
    assert_eq!(
        codes(&findings(&build, &model(), &containerd, &[])),
        vec![FindingCode::BuilderArgUndeclared]
    );
}

#[test]
fn platforms_the_nodes_do_not_offer() {
    let build = target("multi");
    let nodes = vec!["linux/amd64".to_string(), "linux/386".to_string()];
    let found: Vec<CapabilityFinding> = findings(&build, &model(), &container(), &nodes)
        .into_iter()
        .filter(|f| f.code == FindingCode::BuilderPlatform)
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].message,
        "Platform linux/arm64 is not offered by the docker-container builder's nodes (linux/amd64, linux/386). Switch to a builder that offers it."
    );
    assert_eq!(bake_range(&found[0]), Some(range(14, 2, 14, 44)));
    assert_eq!(
        found[0].fixes,
        vec![CapabilityFix::SwitchBuilderWithPlatform {
            platform: "linux/arm64".to_string()
        }]
    );
    // arm64 listed with its variant counts; unknown platforms give nothing.
    let nodes = vec!["linux/amd64".to_string(), "linux/arm64/v8".to_string()];
    for offered in [nodes, Vec::new()] {
        assert!(findings(&build, &model(), &container(), &offered)
            .iter()
            .all(|f| f.code != FindingCode::BuilderPlatform));
    }
}

#[test]
fn missing_stage_and_missing_output() {
    let build = target("nowhere");
    let found = findings(&build, &model(), &docker(), &[]);
    assert_eq!(codes(&found), vec![FindingCode::BuilderTargetMissing]);
    assert_eq!(
        found[0].message,
        "target stage \"missing\" could not be found"
    );
    assert_eq!(found[0].severity, Severity::Error);
    assert_eq!(found[0].dockerfile_range, Span::empty(0));
    assert_eq!(bake_range(&found[0]), Some(range(25, 2, 25, 20)));

    let found = findings(&build, &model(), &container(), &[]);
    assert_eq!(
        codes(&found),
        vec![
            FindingCode::BuilderLoadMissing,
            FindingCode::BuilderTargetMissing
        ]
    );
    let load = &found[0];
    assert_eq!(load.severity, Severity::Warning);
    assert_eq!(
        load.message,
        "No output specified with docker-container driver. Build result will only remain in the build cache. To push result image into registry use --push or to load image into docker use --load"
    );
    assert_eq!(
        load.message,
        build.spec.no_output_warning(&container()).unwrap()
    );
    // On the target's name; the fix adds the output before its closing brace.
    assert_eq!(bake_range(load), Some(range(24, 7, 24, 16)));
    assert_eq!(build.block.as_ref().unwrap().range, range(24, 0, 26, 1));
    let CapabilityFix::AddLoad { edit: Some(edit) } = &load.fixes[0] else {
        panic!("expected an AddLoad edit: {:?}", load.fixes);
    };
    assert_eq!(edit.origin.range, range(26, 0, 26, 0));
    assert_eq!(edit.new_text, "  output = [\"type=docker\"]\n");
}

#[test]
fn settings_builds_get_fixes_without_bake_edits() {
    let ws = dir();
    let settings = BuildSettings {
        cache_to: vec!["type=gha".to_string()],
        ..BuildSettings::default()
    };
    let build = &configured_builds(&ws.join("Dockerfile"), &ws, None, &settings).unwrap()[0];
    let found = findings(build, &model(), &docker(), &[]);
    assert_eq!(codes(&found), vec![FindingCode::BuilderCacheExport]);
    assert_eq!(
        found[0].message,
        "Cache export (type=gha) is not supported for the docker driver: only inline cache. Switch to a docker-container, kubernetes or remote builder."
    );
    // No target: line 0 of the Dockerfile, no bake attribute.
    assert_eq!(found[0].dockerfile_range, Span::empty(0));
    assert_eq!(found[0].bake_origin, None);
    assert_eq!(
        found[0].fixes.last(),
        Some(&CapabilityFix::CacheToInline { edit: None })
    );

    let kube = Features::of(DriverKind::Kubernetes);
    let found = findings(build, &model(), &kube, &[]);
    assert_eq!(codes(&found), vec![FindingCode::BuilderLoadMissing]);
    assert_eq!(found[0].fixes, vec![CapabilityFix::AddLoad { edit: None }]);
    assert_eq!(found[0].bake_origin, None);

    let loaded = BuildSettings {
        load: true,
        ..settings
    };
    let build = &configured_builds(&ws.join("Dockerfile"), &ws, None, &loaded).unwrap()[0];
    assert_eq!(findings(build, &model(), &kube, &[]), vec![]);
    assert_eq!(
        findings(build, &model(), &Features::of(DriverKind::Remote), &[]),
        vec![]
    );
}
