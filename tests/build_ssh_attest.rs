//! `ssh` and `attest` from bake files (HCL attributes, merged through
//! `inherits` as buildx merges them) and from the `buildkit.build.ssh` /
//! `buildkit.build.attest` settings, down to the frontend attributes the
//! solve sends and the capability findings of a docker builder without the
//! containerd image store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use buildkit_lsp::build::bake::{Bake, BakeSource};
use buildkit_lsp::build::capability::{findings, FindingCode};
use buildkit_lsp::build::config::{bake_target_spec, configured_builds, BuildSettings};
use buildkit_lsp::build::SshSpec;
use buildkit_lsp::dockerfile::Model;
use buildkit_lsp::driver::{DriverKind, Features};

fn bake(text: &str) -> Bake {
    Bake::parse(
        &[BakeSource {
            path: PathBuf::from("/ws/docker-bake.hcl"),
            text: text.to_string(),
        }],
        &BTreeMap::new(),
    )
    .unwrap()
}

#[test]
fn bake_ssh_paths_are_relative_to_the_bake_file_and_ids_merge() {
    let b = bake(
        r#"
target "base" {
  ssh = ["default", "git=keys/id_ed25519"]
}
target "app" {
  inherits = ["base"]
  ssh = ["git=/abs/key,keys/second"]
  attest = ["type=provenance,mode=max", "type=sbom,disabled=true"]
}
"#,
    );
    let app = bake_target_spec(&b, "app").unwrap();
    assert_eq!(
        app.spec.ssh,
        vec![
            SshSpec {
                id: "default".into(),
                paths: vec![]
            },
            SshSpec {
                id: "git".into(),
                paths: vec!["/abs/key".into(), "/ws/keys/second".into()]
            },
        ]
    );
    let attrs = app.spec.frontend_attrs();
    assert_eq!(attrs["attest:provenance"], "type=provenance,mode=max");
    assert!(!attrs.contains_key("attest:sbom"), "{attrs:?}");
    assert!(app.origin("attest").is_some());
    assert!(app.origin("ssh").is_some());
}

#[test]
fn a_bad_bake_attest_names_its_attribute() {
    let b = bake("target \"app\" {\n  attest = [\"mode=max\"]\n}\n");
    let e = bake_target_spec(&b, "app").unwrap_err().to_string();
    assert!(
        e.contains("invalid --attest value \"mode=max\": attestation type not specified"),
        "{e}"
    );
    assert!(e.starts_with("/ws/docker-bake.hcl:2:"), "{e}");
}

#[test]
fn settings_give_ssh_and_attestations() {
    let ws = Path::new("/ws");
    let settings = BuildSettings::from_section(&serde_json::json!({
        "build": {
            "ssh": ["default", "deploy=keys/deploy"],
            "attest": ["type=provenance,mode=min"]
        }
    }))
    .unwrap();
    let b = &configured_builds(&ws.join("Dockerfile"), ws, None, &settings).unwrap()[0];
    assert_eq!(b.spec.ssh[1].paths, vec![PathBuf::from("/ws/keys/deploy")]);
    assert_eq!(b.spec.ssh[0].paths, Vec::<PathBuf>::new());
    assert_eq!(
        b.spec.frontend_attrs()["attest:provenance"],
        "type=provenance,mode=min"
    );
    let bad =
        BuildSettings::from_section(&serde_json::json!({"build": {"attest": ["x"]}})).unwrap();
    let e = configured_builds(&ws.join("Dockerfile"), ws, None, &bad)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "buildkit.build.attest: invalid --attest value \"x\": invalid value x"
    );
}

#[test]
fn attestations_are_a_finding_on_the_classic_docker_driver_only() {
    let b = bake("target \"app\" {\n  attest = [\"type=provenance,mode=max\"]\n}\n");
    let app = bake_target_spec(&b, "app").unwrap();
    let model = Model::build(&buildkit_lsp::dockerfile::parse("FROM scratch\n"));
    let classic = Features::of(DriverKind::Docker);
    let found = findings(&app, &model, &classic, &[]);
    let f = found
        .iter()
        .find(|f| f.code == FindingCode::BuilderAttestations)
        .expect("a finding for the attestation");
    assert_eq!(
        f.message,
        "Attestation (type=provenance) is not supported for the docker driver. Switch to a docker-container, kubernetes or remote builder."
    );
    assert_eq!(f.bake_origin.as_ref(), app.origin("attest"));
    let store = Features {
        containerd_store: true,
        ..classic
    };
    assert!(findings(&app, &model, &store, &[])
        .iter()
        .all(|f| f.code != FindingCode::BuilderAttestations));
}
