//! Build insight against the real test Docker Engine (20.10, docker
//! driver): after each build, every instruction's inlay hint says whether it
//! came from the cache and, when it ran, why — a changed context file by
//! name, a changed build arg by name, an edited instruction, an earlier step
//! that ran. The same attribution from the CLI (`build --explain`, one
//! `insight` event in `rawjson`), and after a server restart from the store
//! on disk.
//!
//! Each test has its own HOME, buildx store and insight store
//! (`BUILDKIT_LSP_STATE_DIR`), and a nonce in its Dockerfile so BuildKit's
//! cache from other runs never answers its first build.

mod lsp_support;
mod support;

use std::path::Path;
use std::time::Duration;

use lsp_support::{full_capabilities, Lsp};
use serde_json::{json, Value};

const BUILD_LIMIT: Duration = Duration::from_secs(240);

fn nonce() -> String {
    support::unique_name("n").replace(['-', '_'], "")
}

fn envs(home: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("HOME", home.display().to_string()),
        ("DOCKER_CONFIG", home.join("docker").display().to_string()),
        ("BUILDX_CONFIG", home.join("buildx").display().to_string()),
        ("BUILDX_BUILDER", String::new()),
        ("BUILDKIT_HOST", String::new()),
        (
            "BUILDKIT_LSP_STATE_DIR",
            home.join("state").display().to_string(),
        ),
    ]
}

fn start(home: &Path, settings: Value) -> Lsp {
    let mut lsp = Lsp::spawn_env(&[], &envs(home));
    *lsp.configuration.lock().unwrap() = settings.clone();
    let mut caps = full_capabilities();
    caps["workspace"]["inlayHint"] = json!({"refreshSupport": true});
    lsp.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": caps,
               "initializationOptions": {"buildkit": settings}}),
    );
    lsp.notify("initialized", json!({}));
    lsp
}

fn uri_of(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn build(lsp: &mut Lsp, uri: &str) -> Value {
    let id = lsp.send_request(
        "workspace/executeCommand",
        json!({"command": "buildkit.build", "arguments": [{"uri": uri}]}),
    );
    let r = lsp
        .response_within(id, BUILD_LIMIT)
        .unwrap_or_else(|| panic!("buildkit.build did not answer in {BUILD_LIMIT:?}"));
    assert!(r.get("error").is_none(), "buildkit.build failed: {r}");
    assert_eq!(r["result"]["ok"], true, "{r}");
    r["result"].clone()
}

/// Line → hint label of the document's build insight hints.
fn hints(lsp: &mut Lsp, uri: &str) -> Vec<(u64, String)> {
    let r = lsp.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": uri}, "range": lsp_support::range(0, 0, 100, 0)}),
    );
    r.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["position"]["line"].as_u64().unwrap(),
                h["label"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The lines with a hint, without the FROM line: a build running at the
/// same time with the same FROM (another test) may share that vertex, and
/// BuildKit then reports its progress to that build only.
fn hinted_lines(hints: &[(u64, String)], from_line: u64) -> Vec<u64> {
    hints
        .iter()
        .map(|(l, _)| *l)
        .filter(|l| *l != from_line)
        .collect()
}

fn hint_on(hints: &[(u64, String)], line: u64) -> &str {
    hints
        .iter()
        .find(|(l, _)| *l == line)
        .map(|(_, h)| h.as_str())
        .unwrap_or_else(|| panic!("no hint on line {line}: {hints:?}"))
}

fn dockerfile(n: &str) -> String {
    format!(
        "FROM busybox:test\n\
         ARG V=1\n\
         COPY a.txt /a\n\
         RUN echo {n} > /n\n\
         COPY b.txt /b\n\
         RUN cat /a /b && echo $V\n"
    )
}

#[test]
fn hints_name_the_changed_file_the_changed_arg_and_the_edited_instruction() {
    if support::docker_or_skip("build_insight_hints").is_none() {
        return;
    }
    let n = nonce();
    let text = dockerfile(&n);
    let ctx = support::TempContext::new()
        .file("Dockerfile", &text)
        .file("a.txt", "a\n")
        .file("b.txt", "b\n");
    let home = tempfile::tempdir().unwrap();
    let mut lsp = start(home.path(), json!({"diagnostics": {"debounceMs": 0}}));
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, &text);
    assert_eq!(hints(&mut lsp, &uri), vec![]);

    // First build: the new steps ran.
    build(&mut lsp, &uri);
    let first = hints(&mut lsp, &uri);
    assert_eq!(hinted_lines(&first, 0), vec![2, 3, 4, 5], "{first:?}");
    assert!(hint_on(&first, 3).starts_with("ran "), "{first:?}");
    assert!(
        !lsp.server_requests("workspace/inlayHint/refresh")
            .is_empty(),
        "the server asks the client to show the new hints"
    );

    // Unchanged rebuild: every step cached.
    build(&mut lsp, &uri);
    let unchanged = hints(&mut lsp, &uri);
    assert_eq!(
        hinted_lines(&unchanged, 0),
        vec![2, 3, 4, 5],
        "{unchanged:?}"
    );
    assert!(
        unchanged.iter().all(|(_, h)| h == "cached"),
        "{unchanged:?}"
    );

    // One file of the second COPY changes.
    // New content (with the nonce): no older cache entry can answer the COPY.
    std::fs::write(ctx.path().join("b.txt"), format!("b {n}\n")).unwrap();
    build(&mut lsp, &uri);
    let h = hints(&mut lsp, &uri);
    for line in [2, 3] {
        assert_eq!(hint_on(&h, line), "cached", "{h:?}");
    }
    assert!(hint_on(&h, 4).ends_with(": b.txt changed"), "{h:?}");
    assert!(hint_on(&h, 5).ends_with(": an earlier step ran"), "{h:?}");
    // The hover has the last builds' figures for the COPY.
    let hover = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": lsp_support::pos(4, 7)}),
    );
    let md = hover["contents"]["value"].as_str().unwrap();
    assert!(md.contains("**Last builds** on `default`"), "{md}");
    assert!(
        md.contains("b.txt changed") && md.contains(": cached"),
        "{md}"
    );
    // The summary lens on the first line.
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": uri}}),
    );
    let summary = lenses
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["command"]["title"].as_str())
        .find(|t| t.starts_with("last build: "))
        .unwrap_or_else(|| panic!("no summary lens: {lenses}"))
        .to_string();
    assert!(
        summary.starts_with("last build: 5 steps, 3 cached, ")
            || summary.starts_with("last build: 4 steps, 2 cached, "),
        "{summary}"
    );

    // A build arg changes: the RUN that uses it names it.
    let settings = json!({"diagnostics": {"debounceMs": 0}, "build": {"args": {"V": "2"}}});
    *lsp.configuration.lock().unwrap() = settings.clone();
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"buildkit": settings}}),
    );
    std::thread::sleep(Duration::from_millis(500));
    build(&mut lsp, &uri);
    let h = hints(&mut lsp, &uri);
    assert_eq!(hint_on(&h, 2), "cached", "{h:?}");
    assert!(hint_on(&h, 5).ends_with(": build arg V changed"), "{h:?}");

    // The instruction's text is edited (and saved): it says so.
    let edited = text.replace("RUN cat /a /b", "RUN cat /b /a");
    std::fs::write(ctx.path().join("Dockerfile"), &edited).unwrap();
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 2},
               "contentChanges": [{"text": edited}]}),
    );
    build(&mut lsp, &uri);
    let h = hints(&mut lsp, &uri);
    assert_eq!(hint_on(&h, 4), "cached", "{h:?}");
    assert!(hint_on(&h, 5).ends_with(": instruction changed"), "{h:?}");

    // Hints follow a line inserted above and leave an edited instruction.
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 3},
               "contentChanges": [{"range": lsp_support::range(0, 0, 0, 0), "text": "# note\n"}]}),
    );
    let moved = hints(&mut lsp, &uri);
    assert_eq!(hinted_lines(&moved, 1), vec![3, 4, 5, 6], "{moved:?}");
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": uri, "version": 4},
               "contentChanges": [{"range": lsp_support::range(4, 0, 4, 3), "text": "run"}]}),
    );
    let left = hints(&mut lsp, &uri);
    assert_eq!(hinted_lines(&left, 1), vec![3, 5, 6], "{left:?}");

    // The setting turns the hints off.
    let off = json!({"diagnostics": {"debounceMs": 0}, "insight": {"inlayHints": false}});
    *lsp.configuration.lock().unwrap() = off.clone();
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"buildkit": off}}),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(hints(&mut lsp, &uri), vec![]);
}

#[test]
fn a_restarted_server_shows_the_last_build_from_the_store() {
    if support::docker_or_skip("build_insight_restart").is_none() {
        return;
    }
    let n = nonce();
    let text = dockerfile(&n);
    let ctx = support::TempContext::new()
        .file("Dockerfile", &text)
        .file("a.txt", "a\n")
        .file("b.txt", "b\n");
    let home = tempfile::tempdir().unwrap();
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    {
        let mut lsp = start(home.path(), json!({}));
        lsp.open(&uri, &text);
        build(&mut lsp, &uri);
        lsp.shutdown();
    }
    let store = home.path().join("state/build-insight.json");
    let size = std::fs::metadata(&store)
        .expect("the store is written")
        .len();
    assert!(size < 64 * 1024, "one build takes {size} bytes");
    let mut lsp = start(home.path(), json!({}));
    lsp.open(&uri, &text);
    lsp.wait_server_request("workspace/inlayHint/refresh");
    let h = hints(&mut lsp, &uri);
    assert_eq!(hinted_lines(&h, 0), vec![2, 3, 4, 5], "{h:?}");
    assert!(hint_on(&h, 3).starts_with("ran "), "{h:?}");
}

#[test]
fn cli_explain_prints_the_table_and_rawjson_one_insight_event() {
    if support::docker_or_skip("build_insight_cli").is_none() {
        return;
    }
    let n = nonce();
    let ctx = support::TempContext::new()
        .file("Dockerfile", dockerfile(&n))
        .file("a.txt", "a\n")
        .file("b.txt", "b\n");
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"))
            .args(args)
            .envs(envs(home.path()))
            .env_remove("DOCKER_HOST")
            .output()
            .expect("the binary runs");
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let dir = ctx.path().display().to_string();
    run(&["build", &dir, "--progress=quiet"]);
    std::fs::write(ctx.path().join("a.txt"), format!("a {n}\n")).unwrap();
    let err = run(&["build", &dir, "--explain"]);
    let table = &err[err.find("STEP ").expect("a table")..];
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows[0].starts_with("STEP") && rows[0].ends_with("WHY"),
        "{table}"
    );
    let copy_a = rows
        .iter()
        .find(|r| r.starts_with("3: COPY a.txt /a"))
        .unwrap();
    assert!(
        copy_a.contains(" ran ") && copy_a.ends_with("a.txt changed"),
        "{table}"
    );
    let run_n = rows.iter().find(|r| r.starts_with("4: RUN echo")).unwrap();
    assert!(
        run_n.contains("an earlier step ran (line 3: COPY a.txt /a)"),
        "{table}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("build: 5 steps, 1 cached, ")
                || r.starts_with("build: 4 steps, 0 cached, ")),
        "{table}"
    );

    let err = run(&["build", &dir, "--progress=rawjson"]);
    let events: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == "insight")
        .collect();
    assert_eq!(events.len(), 1, "{err}");
    let ev = &events[0];
    assert_eq!(ev["builder"], "default");
    assert_eq!(ev["ok"], true);
    let steps = ev["steps"].as_array().unwrap();
    // (4 when a concurrent build took the shared FROM vertex.)
    assert!(steps.len() >= 4, "{ev}");
    assert!(steps.iter().all(|s| s["cached"] == true), "{ev}");
}

/// The build history lists the build just made (by its target) with its
/// status, and opens its report with the steps; on BuildKit before 0.11
/// (Engine 20.10) the command says the builder keeps no history. Run on
/// Engine 26 by `scripts/test` (DOCKER_HOST=…/engine26.sock).
#[test]
fn history_lists_the_build_and_reports_its_steps_or_says_there_is_none() {
    let Some(engine) = support::docker_or_skip("build_insight_history") else {
        return;
    };
    let facts = support::engine_facts(&engine);
    let n = nonce();
    let stage = format!("st{n}");
    let text = format!("FROM busybox:test AS {stage}\nRUN echo {n} > /n\n");
    let ctx = support::TempContext::new().file("Dockerfile", &text);
    let home = tempfile::tempdir().unwrap();
    let mut lsp = start(home.path(), json!({}));
    let uri = uri_of(&ctx.path().join("Dockerfile"));
    lsp.open(&uri, &text);
    let id = lsp.send_request(
        "workspace/executeCommand",
        json!({"command": "buildkit.build", "arguments": [{"uri": uri, "target": stage}]}),
    );
    let r = lsp
        .response_within(id, BUILD_LIMIT)
        .expect("the build answers");
    assert_eq!(r["result"]["ok"], true, "{r}");

    let id = lsp.send_request(
        "workspace/executeCommand",
        json!({"command": "buildkit.buildHistory", "arguments": []}),
    );
    let r = lsp
        .response_within(id, Duration::from_secs(60))
        .expect("history answers");
    if facts.major < 23 {
        let message = r["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("keeps no build history") && message.contains("BuildKit 0.11"),
            "{r}"
        );
        return;
    }
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(r["result"]["builder"], "default");
    let builds = r["result"]["builds"].as_array().unwrap();
    let ours = builds
        .iter()
        .find(|b| b["target"] == stage.as_str())
        .unwrap_or_else(|| panic!("no record with target {stage}: {r}"));
    assert_eq!(ours["ok"], true, "{ours}");
    assert!(
        ours["label"]
            .as_str()
            .unwrap()
            .starts_with(&format!("✔ {stage} · ")),
        "{ours}"
    );
    assert!(ours["totalSteps"].as_u64().unwrap() >= 2, "{ours}");

    let report = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.buildReport", "arguments": [{"ref": ours["ref"]}]}),
    );
    let md = report["markdown"].as_str().unwrap();
    assert!(
        md.starts_with(&format!("# Build {}\n", ours["ref"].as_str().unwrap())),
        "{md}"
    );
    assert!(md.contains(&format!("| target | `{stage}` |")), "{md}");
    assert!(md.contains(&format!("RUN echo {n} > /n | ran |")), "{md}");
}
