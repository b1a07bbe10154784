//! Restricted Mode (docs/threat-model.md): a client that says the workspace
//! is not trusted (`initializationOptions.trusted: false`) gets every
//! analysis feature, and every command that executes is refused with the
//! documented error (-32010, `data.restricted`) before it does anything;
//! build on save does nothing; bake files are read without evaluation;
//! `buildkit/setTrust` lifts all of it without a restart.
//!
//! Each test has its own HOME and empty buildx store. None needs Docker:
//! the refusals come before any connection, and the contrast after trusting
//! is "not refused" (a build on a machine without Docker fails otherwise).

mod lsp_support;
mod support;

use std::path::Path;
use std::time::Duration;

use lsp_support::{full_capabilities, pos, Lsp};
use serde_json::{json, Value};

/// The documented error code of a command refused in Restricted Mode.
const RESTRICTED: i64 = -32010;

/// Starts the server with a private HOME/buildx store, `settings` as the
/// `buildkit` section and `trusted` as the initialization option (`None`:
/// left out).
fn start(home: &Path, folder: &Path, trusted: Option<bool>, settings: Value) -> Lsp {
    let envs = [
        ("HOME", home.display().to_string()),
        ("DOCKER_CONFIG", home.join("docker").display().to_string()),
        ("BUILDX_CONFIG", home.join("buildx").display().to_string()),
        ("BUILDX_BUILDER", String::new()),
        ("BUILDKIT_HOST", String::new()),
    ];
    let mut lsp = Lsp::spawn_env(&[], &envs);
    *lsp.configuration.lock().unwrap() = settings.clone();
    let mut options = json!({"buildkit": settings});
    if let Some(t) = trusted {
        options["trusted"] = json!(t);
    }
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": full_capabilities(),
               "workspaceFolders": [{"uri": uri_of(folder), "name": "w"}],
               "initializationOptions": options}),
    );
    lsp.notify("initialized", json!({}));
    lsp
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn command(lsp: &mut Lsp, name: &str, args: Value) -> Value {
    let id = lsp.send_request(
        "workspace/executeCommand",
        json!({"command": name, "arguments": args}),
    );
    lsp.response(json!(id))
}

fn server_info(lsp: &mut Lsp) -> Value {
    lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo", "arguments": []}),
    )
}

fn lens_titles(lsp: &mut Lsp, uri: &str) -> Vec<String> {
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    lenses
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["command"]["title"].as_str().unwrap().to_string())
        .collect()
}

const DOCKERFILE: &str =
    "FROM busybox:test AS base\nRUN echo hi\nFROM base AS final\nCOPY --from=base /bin/sh /x\n";

#[test]
fn every_executing_command_is_refused_with_the_documented_error_and_does_nothing() {
    let home = tempfile::tempdir().unwrap();
    let ctx = support::TempContext::new().file("Dockerfile", DOCKERFILE);
    let mut lsp = start(home.path(), ctx.path(), Some(false), json!({}));
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, DOCKERFILE);
    let calls = [
        ("buildkit.build", json!([{"uri": uri}])),
        ("buildkit.build", json!([{"uri": uri, "target": "base"}])),
        (
            "buildkit.createBuilder",
            json!([{"name": "hostile", "use": true}]),
        ),
        ("buildkit.bootstrapBuilder", json!(["default"])),
        ("buildkit.stopBuilder", json!(["default"])),
        ("buildkit.removeBuilder", json!(["default"])),
    ];
    for (name, args) in calls {
        let r = command(&mut lsp, name, args);
        let err = &r["error"];
        assert_eq!(err["code"], RESTRICTED, "{name}: {r}");
        assert_eq!(
            err["data"],
            json!({"restricted": true, "command": name}),
            "{name}"
        );
        let message = err["message"].as_str().unwrap();
        assert!(
            message.starts_with(&format!("{name} is off in Restricted Mode")),
            "{message}"
        );
        assert!(message.contains("buildkit/setTrust"), "{message}");
    }
    // Nothing ran: no progress, no build log, no builder in the store.
    assert_eq!(lsp.count("$/progress"), 0);
    assert_eq!(lsp.count("buildkit/buildLog"), 0);
    assert!(!home.path().join("buildx/instances/hostile").exists());
    // The commands that only read or choose still answer.
    assert_eq!(server_info(&mut lsp)["trusted"], false);
    let cancel = command(&mut lsp, "buildkit.cancelBuild", json!([{"uri": uri}]));
    assert_eq!(cancel["result"], json!({"cancelled": 0}), "{cancel}");
    let ignore = command(
        &mut lsp,
        "buildkit.ignoreRuleEverywhere",
        json!(["StageNameCasing"]),
    );
    assert!(ignore.get("error").is_none(), "{ignore}");
}

#[test]
fn analysis_answers_in_restricted_mode_and_build_lenses_say_they_are_off() {
    let home = tempfile::tempdir().unwrap();
    let ctx = support::TempContext::new().file("Dockerfile", DOCKERFILE);
    let mut lsp = start(
        home.path(),
        ctx.path(),
        Some(false),
        json!({"diagnostics": {"debounceMs": 0}}),
    );
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    let text =
        "from busybox:test AS base\nRUN echo hi\nFROM base AS final\nCOPY --from=base /bin/sh /x\n";
    lsp.open(&uri, text);
    let diags = lsp.diagnostics(&uri, 1);
    let codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    assert!(
        codes.contains(&"ConsistentInstructionCasing") || codes.contains(&"FromAsCasing"),
        "{diags:?}"
    );
    let hover = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": pos(1, 1)}),
    );
    assert!(
        hover["contents"]["value"].as_str().unwrap().contains("RUN"),
        "{hover}"
    );
    let completion = lsp.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": pos(3, 12)}),
    );
    let labels: Vec<&str> = completion
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert!(labels.contains(&"base"), "{labels:?}");
    let def = lsp.request(
        "textDocument/definition",
        json!({"textDocument": {"uri": uri}, "position": pos(2, 6)}),
    );
    assert_eq!(def["range"]["start"], pos(0, 21), "{def}");
    let edits = lsp.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert!(
        !edits.as_array().unwrap().is_empty(),
        "`from` is uppercased: {edits}"
    );

    let titles = lens_titles(&mut lsp, &uri);
    assert!(
        titles.contains(&"🔒 Build (Restricted Mode)".to_string()),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"🔒 Build stage base (Restricted Mode)".to_string()),
        "{titles:?}"
    );
    assert!(!titles.iter().any(|t| t.starts_with('▶')), "{titles:?}");
}

#[test]
fn set_trust_enables_builds_and_lenses_without_a_restart() {
    let home = tempfile::tempdir().unwrap();
    let ctx = support::TempContext::new().file("Dockerfile", DOCKERFILE);
    let mut lsp = start(home.path(), ctx.path(), Some(false), json!({}));
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, DOCKERFILE);
    let before = command(&mut lsp, "buildkit.build", json!([]));
    assert_eq!(before["error"]["code"], RESTRICTED, "{before}");

    lsp.notify("buildkit/setTrust", json!({"trusted": true}));
    // The client is asked to fetch the lenses again.
    lsp.wait_server_request("workspace/codeLens/refresh");
    assert_eq!(server_info(&mut lsp)["trusted"], true);
    let titles = lens_titles(&mut lsp, &uri);
    assert!(titles.contains(&"▶ Build".to_string()), "{titles:?}");
    // Past the trust check: the missing argument is refused for what it is.
    let after = command(&mut lsp, "buildkit.build", json!([]));
    assert_eq!(after["error"]["code"], -32602, "{after}");
    assert!(after["error"]["message"]
        .as_str()
        .unwrap()
        .contains("expected one argument"));

    // And back: restricted again.
    lsp.notify("buildkit/setTrust", json!({"trusted": false}));
    let again = command(&mut lsp, "buildkit.build", json!([{"uri": uri}]));
    assert_eq!(again["error"]["code"], RESTRICTED, "{again}");
}

#[test]
fn a_client_that_says_nothing_is_trusted_unless_the_server_was_started_restricted() {
    let home = tempfile::tempdir().unwrap();
    let ctx = support::TempContext::new().file("Dockerfile", DOCKERFILE);
    let mut lsp = start(home.path(), ctx.path(), None, json!({}));
    assert_eq!(server_info(&mut lsp)["trusted"], true);
    // A `trusted` key inside the settings (which a workspace can write) is
    // not the trust option.
    let mut lsp = start(
        home.path(),
        ctx.path(),
        Some(false),
        json!({"trusted": true}),
    );
    assert_eq!(server_info(&mut lsp)["trusted"], false);

    let (mut lsp, _) = {
        let mut lsp = Lsp::spawn(&["serve", "--restricted"]);
        let r = lsp.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": full_capabilities()}),
        );
        lsp.notify("initialized", json!({}));
        (lsp, r)
    };
    assert_eq!(server_info(&mut lsp)["trusted"], false);
    let r = command(&mut lsp, "buildkit.build", json!([]));
    assert_eq!(r["error"]["code"], RESTRICTED, "{r}");
}

#[test]
fn build_on_save_does_nothing_until_the_workspace_is_trusted() {
    let home = tempfile::tempdir().unwrap();
    let ctx = support::TempContext::new().file("Dockerfile", DOCKERFILE);
    let mut lsp = start(
        home.path(),
        ctx.path(),
        Some(false),
        json!({"buildOnSave": true}),
    );
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, DOCKERFILE);
    lsp.wait_server_request("workspace/configuration");
    server_info(&mut lsp);
    lsp.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    // The save debounce is 300 ms; a build (or its failure without Docker)
    // would show a message well within this.
    let shown = lsp.notification_within("window/showMessage", Duration::from_secs(2), |p| {
        p["message"].as_str().is_some_and(|m| m.contains("Buil"))
    });
    assert!(
        shown.is_none(),
        "a save built in Restricted Mode: {shown:?}"
    );
    assert_eq!(lsp.count("buildkit/buildLog"), 0);

    // Trusted, the same save starts a build (which ends one way or another).
    lsp.notify("buildkit/setTrust", json!({"trusted": true}));
    lsp.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    let shown = lsp.notification_within("window/showMessage", Duration::from_secs(240), |p| {
        p["message"].as_str().is_some_and(|m| m.contains("Buil"))
    });
    assert!(
        shown.is_some(),
        "no build after the save in a trusted workspace"
    );
}

#[test]
fn bake_files_are_not_evaluated_in_restricted_mode() {
    let home = tempfile::tempdir().unwrap();
    let bake = "variable \"HOME\" {}\ntarget \"app\" {\n  tags = [\"img:${HOME}\"]\n}\n";
    let ctx = support::TempContext::new()
        .file("Dockerfile", DOCKERFILE)
        .file("docker-bake.hcl", bake);
    let mut lsp = start(
        home.path(),
        ctx.path(),
        Some(false),
        json!({"diagnostics": {"debounceMs": 0}}),
    );
    let df = uri_of(&ctx.path().join("Dockerfile"));
    let bake_uri = uri_of(&ctx.path().join("docker-bake.hcl"));
    lsp.open(&df, DOCKERFILE);
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": bake_uri, "languageId": "hcl", "version": 1, "text": bake}}),
    );
    let diags = lsp.diagnostics(&bake_uri, 1);
    let not_evaluated: Vec<&Value> = diags
        .iter()
        .filter(|d| d["code"] == "BakeNotEvaluated")
        .collect();
    assert_eq!(not_evaluated.len(), 1, "{diags:?}");
    assert_eq!(not_evaluated[0]["severity"], 3, "information");
    assert_eq!(not_evaluated[0]["range"]["start"], pos(2, 2));
    // The environment (HOME) reached nothing the editor shows.
    let secret_home = home.path().display().to_string();
    let titles = lens_titles(&mut lsp, &df);
    assert!(
        titles.contains(&"🔒 Build (Restricted Mode)".to_string()),
        "{titles:?}"
    );
    assert!(
        !titles.iter().any(|t| t.contains(&secret_home)),
        "{titles:?}"
    );

    // Trusted: evaluated as buildx does, the environment included.
    lsp.notify("buildkit/setTrust", json!({"trusted": true}));
    let p = lsp.notification_where("textDocument/publishDiagnostics", 0, |p| {
        p["uri"] == bake_uri
            && !p["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["code"] == "BakeNotEvaluated")
    });
    assert_eq!(p["uri"], bake_uri);
    let titles = lens_titles(&mut lsp, &df);
    assert!(
        titles.contains(&format!("▶ Build (img:{secret_home})")),
        "{titles:?}"
    );
}
