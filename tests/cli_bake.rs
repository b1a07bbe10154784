//! `buildkit-lsp bake`: Compose services built the way `docker buildx bake`
//! names them, against the real test Docker Engine (the engine's own
//! builder): the folder's `compose.yaml` and `compose.override.yaml`
//! merged, `.env` interpolated, a service built by name, and a refused
//! build refused with the editor's message before anything runs.

mod support;

use std::path::Path;
use std::process::Output;

fn bake(dir: &Path, home: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
        .arg("bake")
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("DOCKER_CONFIG", home.join("docker"))
        .env_remove("BUILDX_CONFIG")
        .env_remove("BUILDX_BUILDER")
        .env_remove("BUILDKIT_HOST")
        .output()
        .expect("the buildkit-lsp binary runs")
}

#[test]
fn bake_builds_a_compose_service_with_its_override_and_dotenv() {
    if support::docker_or_skip("cli_bake_compose").is_none() {
        return;
    }
    let n = support::unique_name("cb").replace(['-', '_'], "");
    let dockerfile = format!(
        "FROM busybox:test AS base\nARG WHO\nARG WHERE\nRUN echo \"$WHO-$WHERE-$((6*7))-{n}\"\nFROM base AS other\nRUN echo never-{n}\n"
    );
    let compose = format!(
        "services:\n  api:\n    image: lsp-cli-compose:{n}\n    build:\n      context: .\n      target: other\n      args:\n        WHO: ${{WHO}}\n  db:\n    image: postgres\n"
    );
    let over =
        "services:\n  api:\n    build:\n      target: base\n      args:\n        WHERE: override\n";
    let ctx = support::TempContext::new()
        .file("Dockerfile", &dockerfile)
        .file("compose.yaml", &compose)
        .file("compose.override.yaml", over)
        .file(".env", "WHO=dotenv\n");
    let home = tempfile::tempdir().unwrap();
    let out = bake(ctx.path(), home.path(), &["--progress", "plain", "api"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("dotenv-override-42-{n}")),
        "{stderr}"
    );
    assert!(!stderr.contains("never-"), "{stderr}");
    let inspect = std::process::Command::new("docker")
        .args(["image", "inspect", &format!("lsp-cli-compose:{n}")])
        .output()
        .unwrap();
    assert!(inspect.status.success(), "the image was not loaded");
    let _ = std::process::Command::new("docker")
        .args(["image", "rm", &format!("lsp-cli-compose:{n}")])
        .output();
}

#[test]
fn bake_refuses_a_compose_cache_export_the_docker_driver_cannot_do() {
    if support::docker_or_skip("cli_bake_refusal").is_none() {
        return;
    }
    let compose = "services:\n  app:\n    build:\n      context: .\n      cache_to: [\"type=local,dest=out\"]\n";
    let ctx = support::TempContext::new()
        .file("Dockerfile", "FROM busybox:test\n")
        .file("stack.yml", compose);
    let home = tempfile::tempdir().unwrap();
    let out = bake(ctx.path(), home.path(), &["-f", "stack.yml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Cache export is not supported for the docker driver"),
        "{stderr}"
    );
    assert!(!ctx.path().join("out").exists());
}
