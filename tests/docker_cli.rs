//! `buildkit-lsp build` from the terminal: requests the docker driver cannot
//! serve are refused with buildx's feature message before any connection to
//! BuildKit, even with no engine at all; a real build prints buildx-style
//! plain progress and a failure's Dockerfile snippet.

mod support;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
}

/// buildx 0.13.1's refusal, line for line (`docker buildx build` on the
/// docker driver of Engine 20.10 prints the same three lines).
fn refusal(subject: &str, topic: &str) -> String {
    format!(
        "ERROR: {subject} is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\nLearn more at https://docs.docker.com/go/{topic}/\n"
    )
}

#[test]
fn unsupported_requests_are_refused_without_an_engine() {
    let ctx = support::TempContext::new().file("Dockerfile", "FROM scratch\n");
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}", dir.path().join("no-daemon.sock").display());
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["--cache-to", "type=local,dest=cache"],
            "Cache export",
            "build-cache-backends",
        ),
        (
            &["--output", "type=oci,dest=image.tar"],
            "OCI exporter",
            "build-exporters",
        ),
        (
            &["--output", "type=docker,dest=image.tar"],
            "Docker exporter",
            "build-exporters",
        ),
        (
            &["--platform", "linux/amd64,linux/arm64"],
            "Multi-platform build",
            "build-multi-platform",
        ),
    ];
    for (flags, subject, topic) in cases {
        let out = bin()
            .arg("build")
            .args(flags)
            .arg(ctx.path())
            .env("DOCKER_HOST", &host)
            .env_remove("BUILDX_BUILDER")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
        assert_eq!(stderr, refusal(subject, topic), "{flags:?}");
    }
}

#[test]
fn plain_progress_and_a_failure_snippet_on_the_terminal() {
    let Some(ep) = support::docker_or_skip("plain_progress_and_a_failure_snippet_on_the_terminal")
    else {
        return;
    };
    let marker = support::unique_name("cli");
    let ctx = support::TempContext::new().file(
        "Dockerfile",
        format!("FROM busybox:test\nRUN echo {marker}\nRUN echo {marker}-out && exit 5\n"),
    );
    let out = bin()
        .args(["build", "--progress", "plain"])
        .arg(ctx.path())
        .env("DOCKER_HOST", ep.docker_host())
        .env_remove("BUILDX_BUILDER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("] RUN echo {marker}\n")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!(" {marker}-out\n")), "{stderr}");
    assert!(stderr.contains("DONE "), "{stderr}");
    assert!(
        stderr.contains("ERROR: failed to solve: executor failed running [/bin/sh -c echo")
            || stderr.contains("did not complete successfully: exit code: 5"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Dockerfile:3\n--------------------\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("   3 | >>> RUN echo {marker}-out && exit 5\n")),
        "{stderr}"
    );
}

#[test]
fn push_puts_the_tag_in_the_registry() {
    let Some(ep) = support::docker_or_skip("push_puts_the_tag_in_the_registry") else {
        return;
    };
    let Some(registry) = support::registry_or_skip("push_puts_the_tag_in_the_registry") else {
        return;
    };
    let repo = support::unique_name("bkl-push");
    let marker = support::unique_name("m");
    let ctx = support::TempContext::new()
        .file("Dockerfile", "FROM scratch\nCOPY m /m\n")
        .file("m", &marker);
    let tag = format!("{registry}/{repo}:v1");
    let out = bin()
        .args(["build", "--push", "--progress", "quiet", "-t", &tag])
        .arg(ctx.path())
        .env("DOCKER_HOST", ep.docker_host())
        .env_remove("BUILDX_BUILDER")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    // The registry lists the tag.
    let mut s = std::net::TcpStream::connect(&registry).unwrap();
    use std::io::{Read, Write};
    write!(
        s,
        "GET /v2/{repo}/tags/list HTTP/1.1\r\nHost: {registry}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(
        body.ends_with(&format!("{{\"name\":\"{repo}\",\"tags\":[\"v1\"]}}\n")),
        "{body}"
    );
    // Leave the engine's image store as it was.
    if let Ok(rt) = tokio::runtime::Runtime::new() {
        let _ = rt.block_on(ep.bollard().remove_image(
            &tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        ));
    }
}
