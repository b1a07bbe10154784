//! Secret values never leave a build (docs/threat-model.md), against the
//! real test Docker Engine. A build mounts a secret whose value is a unique
//! marker; one step prints it whole and cut in two (a chunk boundary), a
//! failing step prints it to stdout and stderr before exiting 3 (BuildKit
//! masks nothing itself). Every channel is then searched for the marker:
//! the CLI's stdout and stderr with `--progress=plain` and `rawjson`; in
//! the editor (a bake target with a `secret` attribute), every message the
//! server sent (build log, `window/logMessage`, progress, the result, the
//! `BuildFailed` diagnostic) and the server's own log at trace level. Each
//! channel must also show the mask where the value was printed, so the test
//! fails if the value was never printed at all.

mod lsp_support;
mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use lsp_support::{full_capabilities, Lsp};
use serde_json::json;

const MASK: &str = "****";

/// The marker and a Dockerfile that prints the mounted secret `tok`: whole,
/// in two pieces a second apart, then to both streams in a failing step.
fn fixture() -> (String, String) {
    let n = support::unique_name("s").replace(['-', '_'], "");
    let marker = format!("MARKER{n}SECRET");
    let dockerfile = format!(
        "FROM busybox:test\n\
         RUN --mount=type=secret,id=tok echo \"whole $(cat /run/secrets/tok) {n}\"\n\
         RUN --mount=type=secret,id=tok v=$(cat /run/secrets/tok); printf 'cut %s' \"${{v%???????}}\"; sleep 1; printf '%s {n}\\n' \"${{v#${{v%???????}}}}\"\n\
         RUN --mount=type=secret,id=tok echo \"out $(cat /run/secrets/tok)\"; echo \"err $(cat /run/secrets/tok)\" >&2; exit 3\n"
    );
    (marker, dockerfile)
}

fn assert_clean(channel: &str, text: &str, marker: &str) {
    assert!(
        !text.contains(marker),
        "the secret value reached {channel}:\n{}",
        &text[text.find(marker).unwrap().saturating_sub(300)..]
    );
}

#[test]
fn cli_output_never_shows_a_secret_value() {
    if support::docker_or_skip("cli_secret").is_none() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    for progress in ["plain", "rawjson"] {
        // A new marker and nonce each time: no step is cached.
        let (marker, dockerfile) = fixture();
        let ctx = support::TempContext::new()
            .file("Dockerfile", &dockerfile)
            .file("tok.txt", format!("{marker}\n"));
        let secret = format!("id=tok,src={}", ctx.path().join("tok.txt").display());
        let dir = ctx.path().display().to_string();
        let args = ["build", "--progress", progress, "--secret", &secret, &dir];
        let out = support::cli(home.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: the last step fails");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_clean(&format!("stdout ({progress})"), &stdout, &marker);
        assert_clean(&format!("stderr ({progress})"), &stderr, &marker);
        let all = match progress {
            // The step output, joined (one event per chunk).
            "rawjson" => format!("{stdout}\n{stderr}")
                .lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter(|e| e["event"] == "log")
                .map(|e| e["data"].as_str().unwrap_or_default().to_string())
                .collect(),
            _ => format!("{stdout}{stderr}"),
        };
        // Printed, and masked: whole, cut across two chunks, both streams.
        for printed in ["whole ****", "cut ****", "out ****", "err ****"] {
            assert!(
                all.contains(printed),
                "{progress}: no `{printed}` in:\n{all}"
            );
        }
    }
}

#[test]
fn editor_build_never_sends_or_logs_a_secret_value() {
    if support::docker_or_skip("lsp_secret").is_none() {
        return;
    }
    let (marker, dockerfile) = fixture();
    let bake = "target \"app\" {\n  secret = [\"id=tok,src=tok.txt\"]\n}\n";
    let ctx = support::TempContext::new()
        .file("Dockerfile", &dockerfile)
        .file("docker-bake.hcl", bake)
        .file("tok.txt", format!("{marker}\n"));
    let home = tempfile::tempdir().unwrap();
    let log_path = home.path().join("server.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
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
    let mut lsp = Lsp::spawn_with(&[], &envs, "trace", Stdio::from(log_file));
    let settings = json!({"logLevel": "trace", "diagnostics": {"debounceMs": 0}});
    *lsp.configuration.lock().unwrap() = settings.clone();
    let folder = format!("file://{}", ctx.path().display());
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": folder, "capabilities": full_capabilities(),
               "workspaceFolders": [{"uri": folder, "name": "w"}],
               "initializationOptions": {"buildkit": settings}}),
    );
    lsp.notify("initialized", json!({}));
    let df_uri = format!("file://{}", ctx.path().join("Dockerfile").display());
    lsp.open(&df_uri, &dockerfile);
    let bake_uri = format!("file://{}", ctx.path().join("docker-bake.hcl").display());
    let id = lsp.send_request(
        "workspace/executeCommand",
        json!({"command": "buildkit.build", "arguments": [{"uri": bake_uri, "bakeTarget": "app"}]}),
    );
    let r = lsp
        .response_within(id, Duration::from_secs(240))
        .expect("the build answers");
    assert_eq!(r["result"]["ok"], false, "the last step fails: {r}");
    // The failure diagnostic on the failing RUN (line 4), with the log tail.
    let failed = lsp.notification_where("textDocument/publishDiagnostics", 0, |p| {
        p["uri"] == df_uri.as_str()
            && p["diagnostics"]
                .as_array()
                .is_some_and(|d| d.iter().any(|d| d["code"] == "BuildFailed"))
    });
    let diag = failed["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["code"] == "BuildFailed")
        .unwrap()
        .clone();
    assert_eq!(diag["range"]["start"]["line"], 3, "{diag}");
    let message = diag["message"].as_str().unwrap();
    assert!(message.contains(&format!("out {MASK}")), "{message}");
    // Let the trace log settle before reading it.
    std::thread::sleep(Duration::from_millis(300));
    let transcript = lsp.transcript();
    assert_clean("the LSP messages", &transcript, &marker);
    let build_log: String = lsp
        .notifications("buildkit/buildLog")
        .iter()
        .map(|p| p["text"].as_str().unwrap_or_default().to_string())
        .collect();
    for printed in ["whole ****", "cut ****", "out ****", "err ****"] {
        assert!(
            build_log.contains(printed),
            "no `{printed}` in the build log:\n{build_log}"
        );
    }
    let log_messages: String = lsp
        .notifications("window/logMessage")
        .iter()
        .map(|p| p["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(log_messages.contains("whole ****"), "{log_messages}");
    drop(lsp);
    let server_log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        server_log.lines().count() > 100 && server_log.contains("TRACE"),
        "the server log is at trace level: {} lines",
        server_log.lines().count()
    );
    assert_clean("the server's trace log", &server_log, &marker);
    assert!(
        path_is_in(&server_log, ctx.path()),
        "the log names the build"
    );
}

fn path_is_in(log: &str, dir: &Path) -> bool {
    log.contains(&dir.display().to_string()) || log.contains("build-")
}
