//! Attestations (`--attest`, `--provenance`, `--sbom`) on real engines:
//! where the builder can carry them (the docker driver on the containerd
//! image store; any BuildKit v0.11+ through the remote driver) the
//! provenance is in the result — an attestation manifest in the OCI
//! tarball's index, pointing at the image manifest, or `provenance.json`
//! beside a local export — with `mode=max` adding the build configuration
//! that `mode=min` leaves out; where it cannot, the build is refused with
//! buildx's words before anything is sent; an SBOM, whose scanner image
//! would need a pull, fails with the daemon's own message.

mod support;

use std::path::Path;
use std::sync::Arc;

use buildkit_lsp::build::attest::parse_attests;
use buildkit_lsp::build::{BuildSpec, OutputSpec};
use buildkit_lsp::buildkit::Client;
use buildkit_lsp::driver::remote::RemoteDriver;
use buildkit_lsp::driver::Driver;
use serde_json::Value;
use support::home::Home;
use support::relay::{Relay, RelayTls};

/// buildx's refusal on the docker driver of a classic image store
/// (`build/opt.go`: `notSupported("Attestation", …)`), as the CLI prints it.
const REFUSAL: &str = "ERROR: Attestation is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\nLearn more at https://docs.docker.com/go/attestations/\n";

fn context() -> support::TempContext {
    support::TempContext::new().file(
        "Dockerfile",
        format!(
            "FROM {}\nRUN echo {} > /built\n",
            support::BASE_IMAGE,
            support::unique_name("attest")
        ),
    )
}

fn cli_build(home: &Home, ctx: &Path, args: &[&str]) -> std::process::Output {
    home.command()
        .args(["build", "--progress", "plain"])
        .args(args)
        .arg(ctx)
        .output()
        .expect("the binary runs")
}

/// Whether `key` is anywhere in `v`: `mode=max` writes the build
/// configuration (`buildConfig`: the predicate's top level in SLSA v0.2,
/// under `buildDefinition.internalParameters` in v1, which current BuildKit
/// writes), `mode=min` leaves it out.
fn has_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|x| has_key(x, key)),
        Value::Array(a) => a.iter().any(|x| has_key(x, key)),
        _ => false,
    }
}

fn blob(dir: &Path, digest: &str) -> Value {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    let text =
        std::fs::read(dir.join("blobs/sha256").join(hex)).expect("the blob is in the layout");
    serde_json::from_slice(&text).expect("the blob is JSON")
}

/// The provenance predicate of an OCI tarball's single image: the image
/// index holds the image manifest and an attestation manifest that names
/// it; that manifest's layer is the in-toto statement.
fn provenance_in_oci_tarball(tarball: &Path) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("tar")
        .arg("-xf")
        .arg(tarball)
        .arg("-C")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let layout: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("index.json")).unwrap()).unwrap();
    let index = blob(
        dir.path(),
        layout["manifests"][0]["digest"].as_str().unwrap(),
    );
    let manifests = index["manifests"].as_array().expect("an image index");
    let image = manifests
        .iter()
        .find(|m| m["annotations"]["vnd.docker.reference.type"].is_null())
        .expect("the image manifest");
    let attestation = manifests
        .iter()
        .find(|m| m["annotations"]["vnd.docker.reference.type"] == "attestation-manifest")
        .unwrap_or_else(|| panic!("no attestation manifest in {index:#}"));
    assert_eq!(
        attestation["annotations"]["vnd.docker.reference.digest"],
        image["digest"]
    );
    let att = blob(dir.path(), attestation["digest"].as_str().unwrap());
    let layer = &att["layers"][0];
    assert_eq!(layer["mediaType"], "application/vnd.in-toto+json");
    let statement = blob(dir.path(), layer["digest"].as_str().unwrap());
    assert!(
        statement["predicateType"]
            .as_str()
            .is_some_and(|t| t.starts_with("https://slsa.dev/provenance/")),
        "{statement:#}"
    );
    statement["predicate"].clone()
}

#[test]
fn docker_driver_carries_provenance_only_on_the_containerd_store() {
    let test = "docker_driver_carries_provenance_only_on_the_containerd_store";
    let Some(engine) = support::docker_or_skip(test) else {
        return;
    };
    let facts = support::engine_facts(&engine);
    let home = Home::with_engine(&engine);
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let tarball = out.path().join("image.tar");
    let dest = format!("type=oci,dest={}", tarball.display());
    let res = cli_build(
        &home,
        ctx.path(),
        &["--attest", "type=provenance,mode=max", "--output", &dest],
    );
    let stderr = String::from_utf8_lossy(&res.stderr);
    if !facts.containerd_store {
        assert_eq!(res.status.code(), Some(1), "{stderr}");
        // The attestation is refused before the OCI exporter (buildx's order).
        assert_eq!(stderr, REFUSAL);
        let res = cli_build(&home, ctx.path(), &["--provenance", "true"]);
        assert_eq!(String::from_utf8_lossy(&res.stderr), REFUSAL);
        // Turned off, it asks nothing: the build runs.
        let res = cli_build(&home, ctx.path(), &["--provenance", "false"]);
        assert!(
            res.status.success(),
            "{}",
            String::from_utf8_lossy(&res.stderr)
        );
        return;
    }
    assert!(res.status.success(), "{stderr}");
    let max = provenance_in_oci_tarball(&tarball);
    assert!(has_key(&max, "buildConfig"), "mode=max: {max:#}");
    let res = cli_build(
        &home,
        ctx.path(),
        &["--provenance", "mode=min", "--output", &dest],
    );
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    let min = provenance_in_oci_tarball(&tarball);
    assert!(!has_key(&min, "buildConfig"), "mode=min: {min:#}");
    assert!(has_key(&min, "materials"), "{min:#}");
}

#[test]
fn an_sbom_fails_offline_with_the_daemons_message() {
    let test = "an_sbom_fails_offline_with_the_daemons_message";
    let Some(engine) = support::docker_or_skip(test) else {
        return;
    };
    let facts = support::engine_facts(&engine);
    let home = Home::with_engine(&engine);
    let ctx = context();
    let res = cli_build(&home, ctx.path(), &["--sbom", "true"]);
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "{stderr}");
    if !facts.containerd_store {
        assert_eq!(stderr, REFUSAL);
        return;
    }
    // BuildKit resolves its scanner image, which this machine cannot pull.
    assert!(
        stderr.contains("ERROR: failed to solve: ")
            && stderr.contains("docker/buildkit-syft-scanner"),
        "{stderr}"
    );
}

/// Through the remote driver every BuildKit with attestations (v0.11+,
/// the ones that answer `Info`) writes the provenance beside a local
/// export; an older one is refused in buildx's words instead of silently
/// building without it.
#[tokio::test]
async fn remote_driver_writes_provenance_or_refuses_an_old_daemon() {
    let test = "remote_driver_writes_provenance_or_refuses_an_old_daemon";
    let Some(engine) = support::docker_or_skip(test) else {
        return;
    };
    let relay = Relay::tcp(&engine, RelayTls::None);
    let driver = RemoteDriver::new(Some(relay.endpoint()), &Default::default()).unwrap();
    let client = Client::connect(Arc::new(driver) as Arc<dyn Driver>)
        .await
        .unwrap();
    let ctx = context();
    let out = tempfile::tempdir().unwrap();
    let mut spec = BuildSpec::new(ctx.path());
    spec.outputs = vec![OutputSpec::parse(&format!(
        "type=local,dest={}",
        out.path().join("fs").display()
    ))
    .unwrap()];
    spec.attests = parse_attests(&[], Some("mode=max"), None).unwrap();
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let result = client.build(&spec, tx).await;
    if client.info().await.unwrap().is_none() {
        let e = result.expect_err("an old daemon is refused");
        assert_eq!(
            e.to_string(),
            "Attestations are not supported by the current BuildKit daemon"
        );
        return;
    }
    result.expect("the build succeeds");
    let statement: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("fs/provenance.json")).unwrap())
            .unwrap();
    assert!(
        has_key(&statement["predicate"], "buildConfig"),
        "{statement:#}"
    );
    assert!(out.path().join("fs/built").exists());
}
