//! Named build contexts (`--build-context NAME=VALUE`, bake `contexts`,
//! the editor's `buildkit.build.contexts`) on the real daemons: a local
//! directory used by `COPY --from`, a `docker-image://` context replacing a
//! `FROM`, and an `oci-layout://` context (a layout written here by hand,
//! independent of our exporter) used by a `FROM`, by tag, by digest and as
//! the layout's only image.
//!
//! Each engine's real behaviour is asserted: Engine 20.10's Dockerfile
//! frontend (BuildKit 0.8) refuses named contexts outright; Engine 26 on
//! the classic image store serves directories and images but not OCI
//! layouts (its worker has no `oci-layout` source); with the containerd
//! store it serves all three.

mod lsp_support;
mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use buildkit_lsp::build::bake::{Bake, BakeSource};
use buildkit_lsp::build::config::{bake_target_spec, from_settings, BuildSettings};
use buildkit_lsp::build::options::{parse_build_context, ContextSource};
use buildkit_lsp::build::{BuildSpec, OutputSpec};
use buildkit_lsp::buildkit::{BuildkitError, Client};
use buildkit_lsp::driver::docker::{DockerDriver, DockerEndpoint as DriverEndpoint};
use sha2::{Digest as _, Sha256};
use support::{DockerEndpoint, TempContext, BASE_IMAGE};

fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

// ---------------------------------------------------------------------------
// Syntax and configuration (pure).

#[test]
fn context_values_are_classified_as_buildx_classifies_them() {
    let (name, src) =
        parse_build_context("docker.io/library/alpine:latest=docker-image://busybox:test").unwrap();
    assert_eq!(name, "alpine");
    assert_eq!(
        src,
        ContextSource::Passthrough("docker-image://busybox:test".into())
    );
    for url in [
        "https://github.com/moby/buildkit.git#master",
        "git@github.com:moby/buildkit.git",
        "github.com/moby/buildkit",
    ] {
        assert_eq!(
            parse_build_context(&format!("src={url}")).unwrap().1,
            ContextSource::Passthrough(url.into())
        );
    }
    assert_eq!(
        parse_build_context("files=./extra").unwrap().1,
        ContextSource::Local("./extra".into())
    );
    let d = format!("sha256:{}", "a".repeat(64));
    assert_eq!(
        parse_build_context(&format!("b=oci-layout:///l/dir:v1@{d}"))
            .unwrap()
            .1,
        ContextSource::OciLayout {
            path: "/l/dir".into(),
            tag: Some("v1".into()),
            digest: Some(d.clone())
        }
    );
    assert_eq!(
        parse_build_context("b=oci-layout://dir").unwrap().1,
        ContextSource::OciLayout {
            path: "dir".into(),
            tag: Some("latest".into()),
            digest: None
        }
    );
    let e = parse_build_context("nothing").unwrap_err().to_string();
    assert!(
        e.ends_with("invalid context value: nothing, expected key=value"),
        "{e}"
    );
    let e = parse_build_context("Base=./x").unwrap_err().to_string();
    assert!(
        e.ends_with("invalid context name Base: repository name must be lowercase"),
        "{e}"
    );
    let e = parse_build_context("b=oci-layout://dir@sha256:short")
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid checksum digest length"), "{e}");
}

#[test]
fn contexts_become_frontend_attributes() {
    let mut spec = BuildSpec::new("/ctx");
    for c in [
        "files=./extra",
        "img=docker-image://busybox:test",
        "context=/other",
    ] {
        let (n, s) = parse_build_context(c).unwrap();
        spec.contexts.insert(n, s);
    }
    let a = spec.frontend_attrs();
    assert_eq!(a["context:files"], "local:files");
    assert_eq!(a["context:img"], "docker-image://busybox:test");
    // The build's own directory names are never shadowed.
    assert_eq!(a["context:context"], "local:_context");
    assert_eq!(
        a["frontend.caps"],
        "moby.buildkit.frontend.contexts+forward"
    );
}

#[test]
fn bake_and_settings_contexts_are_against_their_folder() {
    let bake = Bake::parse(
        &[BakeSource {
            path: "/ws/docker-bake.hcl".into(),
            text: r#"
target "app" {
  contexts = {
    files = "./extra"
    img = "docker-image://busybox:test"
    base = "oci-layout://./layout:v1"
  }
}
"#
            .into(),
        }],
        &BTreeMap::new(),
    )
    .unwrap();
    let spec = bake_target_spec(&bake, "app").unwrap().spec;
    assert_eq!(
        spec.contexts["files"],
        ContextSource::Local("/ws/extra".into())
    );
    assert_eq!(
        spec.contexts["img"],
        ContextSource::Passthrough("docker-image://busybox:test".into())
    );
    assert_eq!(
        spec.contexts["base"],
        ContextSource::OciLayout {
            path: "/ws/layout".into(),
            tag: Some("v1".into()),
            digest: None
        }
    );
    let settings = BuildSettings::from_build_object(&serde_json::json!({
        "contexts": {"files": "extra"}
    }))
    .unwrap();
    let spec = from_settings(Path::new("/ws/Dockerfile"), Path::new("/ws"), &settings)
        .unwrap()
        .spec;
    assert_eq!(
        spec.contexts["files"],
        ContextSource::Local("/ws/extra".into())
    );
}

// ---------------------------------------------------------------------------
// On the real daemons.

/// An OCI layout holding one image: a layer with `/hello.txt` (made by the
/// system's `tar`), its config and manifest, named `v1` in index.json.
/// Returns the manifest digest.
fn write_layout(dir: &Path, hello: &str) -> String {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("hello.txt"), hello).unwrap();
    let tar = std::process::Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(root.path())
        .args(["-cf", "-", "hello.txt"])
        .output()
        .expect("tar runs");
    assert!(tar.status.success());
    let layer = tar.stdout;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": {"Env": ["FROM_LAYOUT=1"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(&layer)]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(&layer), "size": layer.len()}],
    }))
    .unwrap();
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for b in [&layer, &config, &manifest] {
        std::fs::write(blobs.join(&sha(b)[7..]), b).unwrap();
    }
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": sha(&manifest),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "v1"},
        }],
    });
    std::fs::write(dir.join("index.json"), index.to_string()).unwrap();
    sha(&manifest)
}

async fn client(ep: &DockerEndpoint) -> Client {
    let driver = DockerDriver::connect_to(DriverEndpoint::parse(&ep.docker_host()).unwrap())
        .await
        .expect("docker driver");
    Client::connect(Arc::new(driver)).await.expect("connect")
}

/// Builds `spec` (its output set to a local directory) and returns that
/// directory, or the error's rendering.
async fn build_to_dir(client: &Client, mut spec: BuildSpec) -> Result<tempfile::TempDir, String> {
    let out = tempfile::tempdir().unwrap();
    spec.outputs =
        vec![OutputSpec::parse(&format!("type=local,dest={}", out.path().display())).unwrap()];
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    match client.build(&spec, tx).await {
        Ok(_) => Ok(out),
        Err(BuildkitError::Solve(f)) => Err(buildkit_lsp::buildkit::render_failure(&f)),
        Err(e) => Err(e.to_string()),
    }
}

fn with_contexts(ctx: &Path, contexts: &[&str]) -> BuildSpec {
    let mut spec = BuildSpec::new(ctx);
    for c in contexts {
        let (n, s) = parse_build_context(c).unwrap();
        spec.contexts.insert(n, s);
    }
    spec
}

/// Engine 20.10's frontend predates named contexts: it refuses the
/// capability buildx (and we) ask for.
fn assert_refused_by_an_old_frontend(r: Result<tempfile::TempDir, String>) {
    let e = r.expect_err("Engine 20.10 refuses named contexts");
    assert!(
        e.contains("unsupported frontend capability moby.buildkit.frontend.contexts"),
        "{e}"
    );
}

#[tokio::test]
async fn a_local_directory_context_is_used_by_copy_from() {
    let Some(ep) = support::docker_or_skip("a_local_directory_context_is_used_by_copy_from") else {
        return;
    };
    let marker = support::unique_name("files");
    let extra = TempContext::new()
        .file("file.txt", &marker)
        .file("secret.txt", "never sent")
        .file(".dockerignore", "secret.txt\n");
    let ctx = TempContext::new().file(
        "Dockerfile",
        "FROM scratch\nCOPY --from=files /file.txt /got.txt\nCOPY --from=files / /all/\n",
    );
    let spec = with_contexts(ctx.path(), &[&format!("files={}", extra.path().display())]);
    let r = build_to_dir(&client(&ep).await, spec).await;
    if support::engine_facts(&ep).major < 26 {
        return assert_refused_by_an_old_frontend(r);
    }
    let out = r.expect("the build succeeds");
    assert_eq!(
        std::fs::read_to_string(out.path().join("got.txt")).unwrap(),
        marker
    );
    // The named directory's own .dockerignore holds, as the context's does.
    assert!(out.path().join("all/file.txt").exists());
    assert!(!out.path().join("all/secret.txt").exists());
}

#[tokio::test]
async fn a_docker_image_context_replaces_a_from() {
    let Some(ep) = support::docker_or_skip("a_docker_image_context_replaces_a_from") else {
        return;
    };
    let ctx = TempContext::new().file(
        "Dockerfile",
        "FROM nonexistent.invalid/base:1\nCOPY Dockerfile /copied\n",
    );
    let spec = with_contexts(
        ctx.path(),
        &[&format!(
            "nonexistent.invalid/base:1=docker-image://{BASE_IMAGE}"
        )],
    );
    let r = build_to_dir(&client(&ep).await, spec).await;
    if support::engine_facts(&ep).major < 26 {
        return assert_refused_by_an_old_frontend(r);
    }
    let out = r.expect("the build succeeds");
    // busybox's files, not a pull of the name the Dockerfile gives.
    assert!(out.path().join("bin/busybox").exists());
    assert!(out.path().join("copied").exists());
}

#[tokio::test]
async fn an_oci_layout_context_is_used_by_from_by_tag_digest_and_as_the_only_image() {
    let Some(ep) = support::docker_or_skip("an_oci_layout_context_is_used_by_from") else {
        return;
    };
    let facts = support::engine_facts(&ep);
    let layout = tempfile::tempdir().unwrap();
    let marker = support::unique_name("layout");
    let digest = write_layout(layout.path(), &marker);
    let ctx = TempContext::new().file("Dockerfile", "FROM base\nCOPY Dockerfile /copied\n");
    let client = client(&ep).await;
    let l = layout.path().display().to_string();
    for value in [
        format!("base=oci-layout://{l}:v1"),
        format!("base=oci-layout://{l}@{digest}"),
        // No tag and no `latest`: the layout's only image.
        format!("base=oci-layout://{l}"),
    ] {
        let r = build_to_dir(&client, with_contexts(ctx.path(), &[&value])).await;
        if facts.major < 26 {
            assert_refused_by_an_old_frontend(r);
            continue;
        }
        if !facts.containerd_store {
            let e = r.expect_err("the classic store has no oci-layout source");
            assert!(e.contains("unknown scheme oci-layout"), "{value}: {e}");
            continue;
        }
        let out = r.unwrap_or_else(|e| panic!("{value}: {e}"));
        assert_eq!(
            std::fs::read_to_string(out.path().join("hello.txt")).unwrap(),
            marker,
            "{value}"
        );
        assert!(out.path().join("copied").exists());
    }
    // A tag the index does not have, in a layout of two images: buildx's
    // message, before anything is sent.
    let mut idx = buildkit_lsp::buildkit::ocilayout::StoreIndex::new(layout.path())
        .read()
        .unwrap();
    let mut second = idx.manifests[0].clone();
    second
        .annotations
        .insert("org.opencontainers.image.ref.name".into(), "v2".into());
    idx.manifests.push(second);
    std::fs::write(
        layout.path().join("index.json"),
        serde_json::to_vec(&idx).unwrap(),
    )
    .unwrap();
    let value = format!("base=oci-layout://{l}:v3");
    let e = build_to_dir(&client, with_contexts(ctx.path(), &[&value]))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        format!("oci-layout reference \"oci-layout://{l}:v3\" could not be resolved: failed to resolve digest")
    );
}

#[test]
fn the_cli_flag_reaches_the_build() {
    let Some(ep) = support::docker_or_skip("the_cli_flag_reaches_the_build") else {
        return;
    };
    let home = support::home::Home::new();
    let marker = support::unique_name("cli-ctx");
    let extra = TempContext::new().file("m.txt", &marker);
    let ctx = TempContext::new().file("Dockerfile", "FROM scratch\nCOPY --from=x /m.txt /m.txt\n");
    let out = tempfile::tempdir().unwrap();
    let args = [
        "build".to_string(),
        "--build-context".to_string(),
        format!("x={}", extra.path().display()),
        "--output".to_string(),
        format!("type=local,dest={}", out.path().display()),
        ctx.path().display().to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = support::cli(home.path(), &args);
    if support::engine_facts(&ep).major < 26 {
        let stderr = support::expect_failure(&args, result);
        assert!(
            stderr.contains("unsupported frontend capability"),
            "{stderr}"
        );
        return;
    }
    support::expect_success(&args, result);
    assert_eq!(
        std::fs::read_to_string(out.path().join("m.txt")).unwrap(),
        marker
    );
}

/// Bake's `target:NAME` contexts (buildx builds the named target first and
/// hands its result to the frontend) are refused before anything is sent,
/// saying what to do instead.
#[test]
fn a_bake_target_context_is_refused_with_what_to_do() {
    let bake = Bake::parse(
        &[BakeSource {
            path: "/ws/docker-bake.hcl".into(),
            text:
                "target \"base\" {}\ntarget \"app\" {\n  contexts = { base = \"target:base\" }\n}\n"
                    .into(),
        }],
        &BTreeMap::new(),
    )
    .unwrap();
    let spec = bake_target_spec(&bake, "app").unwrap().spec;
    let f = buildkit_lsp::driver::Features::of(buildkit_lsp::driver::DriverKind::Remote);
    let e = buildkit_lsp::buildkit::client::solve_request(&spec, &spec.exports(&f), &f, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "context base=target:base: linking a bake target is not supported by this client yet; build base first and use its image through docker-image:// or an oci-layout:// directory"
    );
}

/// An editor build (`buildkit.build` on a bake target) sends the target's
/// `contexts` as the CLI does.
#[test]
fn an_editor_bake_build_uses_the_targets_contexts() {
    let Some(ep) = support::docker_or_skip("an_editor_bake_build_uses_the_targets_contexts") else {
        return;
    };
    let marker = support::unique_name("editor-ctx").replace(['-', '_'], "");
    let ctx = TempContext::new()
        .file(
            "Dockerfile",
            "FROM busybox:test\nCOPY --from=files /m.txt /m.txt\nRUN cat /m.txt\n",
        )
        .file("extra/m.txt", format!("seen-{marker}"))
        .file(
            "docker-bake.hcl",
            "target \"app\" {\n  contexts = { files = \"extra\" }\n}\n",
        );
    let home = tempfile::tempdir().unwrap();
    let envs = [
        ("HOME", home.path().display().to_string()),
        (
            "DOCKER_CONFIG",
            home.path().join("docker").display().to_string(),
        ),
        (
            "BUILDX_CONFIG",
            home.path().join("buildx").display().to_string(),
        ),
        ("BUILDX_BUILDER", String::new()),
        ("BUILDKIT_HOST", String::new()),
    ];
    let mut lsp = lsp_support::Lsp::spawn_env(&[], &envs);
    lsp.request(
        "initialize",
        serde_json::json!({"processId": null, "rootUri": null,
            "capabilities": lsp_support::full_capabilities()}),
    );
    lsp.notify("initialized", serde_json::json!({}));
    let bake_uri = format!("file://{}", ctx.path().join("docker-bake.hcl").display());
    let id = lsp.send_request(
        "workspace/executeCommand",
        serde_json::json!({"command": "buildkit.build",
            "arguments": [{"uri": bake_uri, "bakeTarget": "app"}]}),
    );
    let r = lsp
        .response_within(id, std::time::Duration::from_secs(240))
        .expect("buildkit.build answers")["result"]
        .clone();
    if support::engine_facts(&ep).major < 26 {
        assert_eq!(r["ok"], false, "{r}");
        let e = r["error"].as_str().unwrap_or_default();
        assert!(e.contains("unsupported frontend capability"), "{r}");
        return;
    }
    assert_eq!(r["ok"], true, "{r}");
    let log: String = lsp
        .notifications("buildkit/buildLog")
        .iter()
        .filter(|p| p["buildId"] == r["buildId"])
        .map(|p| p["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(log.contains(&format!("seen-{marker}")), "{log}");
}
