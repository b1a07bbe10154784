//! Protocol tests of the language server's lifecycle, settings, commands and
//! diagnostics plumbing, against the real binary over stdio.

mod lsp_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lsp_support::{full_capabilities, range, Lsp};
use serde_json::{json, Value};

const URI: &str = "file:///work/Dockerfile";

/// Every command the server advertises, in its order (the protocol of
/// issues 3, 7 and 18, written out here by hand).
const COMMANDS: [&str; 16] = [
    "buildkit.build",
    "buildkit.cancelBuild",
    "buildkit.buildHistory",
    "buildkit.buildReport",
    "buildkit.ignoreRuleEverywhere",
    "buildkit.reloadSettings",
    "buildkit.serverInfo",
    "buildkit.listBuilders",
    "buildkit.selectBuilder",
    "buildkit.useBuilder",
    "buildkit.useBuilderGlobally",
    "buildkit.createBuilder",
    "buildkit.bootstrapBuilder",
    "buildkit.stopBuilder",
    "buildkit.removeBuilder",
    "buildkit.enableLoad",
];

#[test]
fn initialize_negotiates_utf16_by_default_and_advertises_commands() {
    let (lsp, init) = Lsp::start(json!({}), Value::Null);
    let caps = &init["capabilities"];
    assert_eq!(caps["positionEncoding"], "utf-16");
    // Incremental sync (2) with open/close.
    assert_eq!(caps["textDocumentSync"]["change"], 2);
    assert_eq!(caps["textDocumentSync"]["openClose"], true);
    assert_eq!(caps["executeCommandProvider"]["commands"], json!(COMMANDS));
    assert_eq!(caps["codeLensProvider"]["resolveProvider"], false);
    // Push mode by default: no pull provider advertised.
    assert!(caps.get("diagnosticProvider").is_none(), "{caps}");
    assert_eq!(init["serverInfo"]["name"], "buildkit-lsp");
    assert_eq!(lsp.shutdown(), Some(0));
}

#[test]
fn utf8_is_chosen_when_the_client_offers_it() {
    let caps = json!({"general": {"positionEncodings": ["utf-8", "utf-16"]}});
    let (lsp, init) = Lsp::start(caps, Value::Null);
    assert_eq!(init["capabilities"]["positionEncoding"], "utf-8");
    drop(lsp);
}

#[test]
fn edits_use_the_negotiated_encoding_and_are_clamped() {
    let mut lsp = Lsp::start_default();
    // "é" is 2 bytes in UTF-8 but 1 UTF-16 unit; the emoji 4 bytes / 2 units.
    lsp.open(URI, "FROM alpine\nLABEL a=\"é😀b\"\n");
    lsp.diagnostics(URI, 1);
    // Replace `b` (UTF-16 character 12 on line 1) with `cd`.
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2},
               "contentChanges": [{"range": range(1, 12, 1, 13), "text": "cd"}]}),
    );
    // An edit far past the end is clamped to the end of the text.
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 3},
               "contentChanges": [{"range": range(99, 5, 120, 0), "text": "RUN x\n"}]}),
    );
    lsp.diagnostics(URI, 3);
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    let doc = &info["openDocuments"][0];
    assert_eq!(doc["version"], 3);
    // "FROM alpine\n" 12 + "LABEL a=\"é😀cd\"\n" (9 + 2 + 4 + 2 + 2 = 19) + "RUN x\n" 6.
    assert_eq!(doc["bytes"], 12 + 19 + 6);
    assert_eq!(doc["lines"], 4);
}

#[test]
fn out_of_order_changes_are_not_applied() {
    let mut lsp = Lsp::start_default();
    lsp.open(URI, "FROM a\n");
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 5}, "contentChanges": [{"text": "FROM b\nRUN c\n"}]}),
    );
    // Version 4 arrives late: it must not overwrite version 5.
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 4}, "contentChanges": [{"text": "X"}]}),
    );
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(info["openDocuments"][0]["version"], 5);
    assert_eq!(info["openDocuments"][0]["bytes"], 13);
}

#[test]
fn settings_are_pulled_after_initialized_and_unknown_keys_logged() {
    let mut lsp = Lsp::spawn(&[]);
    *lsp.configuration.lock().unwrap() = json!({
        "checks": {"skip": ["StageNameCasing"]},
        "diagnostics": {"debounceMs": 120},
        "logLevel": "debug",
        "colour": "blue"
    });
    lsp.request("initialize", json!({"capabilities": full_capabilities()}));
    lsp.notify("initialized", json!({}));
    let log = lsp.notification_where("window/logMessage", 0, |p| {
        p["message"]
            .as_str()
            .is_some_and(|m| m.contains("buildkit.colour: unknown setting"))
    });
    assert_eq!(log["type"], 2, "unknown keys are warnings");
    let reqs = lsp.server_requests("workspace/configuration");
    assert_eq!(reqs[0]["items"], json!([{"section": "buildkit"}]));
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(
        info["settings"]["checks"]["skip"],
        json!(["StageNameCasing"])
    );
    assert_eq!(info["settings"]["diagnostics"]["debounceMs"], 120);
    assert_eq!(info["settings"]["logLevel"], "debug");
}

#[test]
fn did_change_configuration_applies_pushed_and_pulled_settings() {
    let mut lsp = Lsp::start_default();
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"buildkit": {"diagnostics": {"debounceMs": 7}}}}),
    );
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(info["settings"]["diagnostics"]["debounceMs"], 7);
    // Pull model: the notification carries nothing, the server asks.
    *lsp.configuration.lock().unwrap() = json!({"diagnostics": {"debounceMs": 9}});
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": null}),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info = lsp.request(
            "workspace/executeCommand",
            json!({"command": "buildkit.serverInfo"}),
        );
        if info["settings"]["diagnostics"]["debounceMs"] == 9 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "pulled settings never applied: {info}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ignore_rule_everywhere_extends_the_skip_list_and_validates_arguments() {
    let mut lsp = Lsp::start_default();
    let r = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.ignoreRuleEverywhere", "arguments": ["JSONArgsRecommended"]}),
    );
    assert_eq!(
        r,
        json!({"setting": "buildkit.checks.skip", "value": ["JSONArgsRecommended"]})
    );
    let e = lsp.request_error(
        "workspace/executeCommand",
        json!({"command": "buildkit.ignoreRuleEverywhere", "arguments": []}),
    );
    assert_eq!(e["code"], -32602);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("expected one argument"),
        "{e}"
    );
    let e = lsp.request_error(
        "workspace/executeCommand",
        json!({"command": "buildkit.nope"}),
    );
    assert_eq!(e["code"], -32602);
    assert_eq!(
        e["message"],
        format!(
            "unknown command `buildkit.nope`: the server offers {}",
            COMMANDS.join(", ")
        )
    );
}

#[test]
fn diagnostics_are_debounced_and_only_the_latest_version_is_published() {
    let mut lsp = Lsp::start(
        full_capabilities(),
        json!({"buildkit": {"diagnostics": {"debounceMs": 300}}}),
    )
    .0;
    lsp.open(URI, "FROM a\n");
    lsp.diagnostics(URI, 1);
    let before = lsp.count("textDocument/publishDiagnostics");
    for v in 2..=6 {
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": URI, "version": v},
                   "contentChanges": [{"range": range(1, 0, 1, 0), "text": "RUN x\n"}]}),
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = Instant::now();
    lsp.diagnostics(URI, 6);
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "published before the debounce"
    );
    // Wait past another debounce period: no stale publish may follow.
    std::thread::sleep(Duration::from_millis(500));
    let pubs = lsp.notifications("textDocument/publishDiagnostics");
    let versions: Vec<&Value> = pubs[before..].iter().map(|p| &p["version"]).collect();
    assert_eq!(versions, vec![&json!(6)]);
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(info["openDocuments"][0]["lines"], 7);
}

/// The versions of every publish for `uri` after the first `skip` ones.
fn published_versions(lsp: &Lsp, uri: &str, skip: usize) -> Vec<i64> {
    lsp.notifications("textDocument/publishDiagnostics")
        .iter()
        .filter(|p| p["uri"] == uri)
        .skip(skip)
        .map(|p| p["version"].as_i64().expect("a versioned publish"))
        .collect()
}

fn publishes_for(lsp: &Lsp, uri: &str) -> usize {
    published_versions(lsp, uri, 0).len()
}

#[test]
fn edits_arriving_during_a_computation_collapse_into_one_follow_up() {
    // Default settings: no delay.
    let lsp = Lsp::start(full_capabilities(), Value::Null).0;
    // Large enough that one computation outlasts the burst below.
    let mut text = String::from("FROM alpine AS base\n");
    for i in 0..20_000 {
        text.push_str(&format!("RUN echo {i}\n"));
    }
    lsp.open(URI, &text);
    lsp.diagnostics(URI, 1);
    let before = publishes_for(&lsp, URI);
    // Twenty keystrokes in one write: they all arrive while the first
    // edit's diagnostics compute.
    let mut burst = Vec::new();
    for v in 2..=21 {
        let msg = json!({"jsonrpc": "2.0", "method": "textDocument/didChange",
            "params": {"textDocument": {"uri": URI, "version": v},
                       "contentChanges": [{"range": range(0, 4, 0, 4), "text": "x"}]}});
        burst.extend(lsp_support::frame(msg.to_string().as_bytes()));
    }
    lsp.write_raw(&burst);
    lsp.diagnostics(URI, 21);
    std::thread::sleep(Duration::from_millis(300));
    let versions = published_versions(&lsp, URI, before);
    assert!(
        versions.len() <= 3,
        "a publish per keystroke instead of one follow-up: {versions:?}"
    );
    assert_eq!(versions.last(), Some(&21), "{versions:?}");
}

#[test]
fn the_last_publish_reflects_the_last_version() {
    let lsp = Lsp::start(full_capabilities(), Value::Null).0;
    lsp.open(URI, "FROM alpine\nRUN x\n");
    lsp.diagnostics(URI, 1);
    let before = publishes_for(&lsp, URI);
    // Line 1 alternates between a deprecated MAINTAINER (even versions) and
    // a clean RUN (odd), at irregular intervals, so computations and edits
    // overlap in every way.
    let last = 41;
    for v in 2..=last {
        let line = if v % 2 == 0 { "MAINTAINER me" } else { "RUN x" };
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": URI, "version": v},
                   "contentChanges": [{"range": range(1, 0, 2, 0), "text": format!("{line}\n")}]}),
        );
        std::thread::sleep(Duration::from_millis((v % 4) as u64));
    }
    lsp.diagnostics(URI, last);
    std::thread::sleep(Duration::from_millis(300));
    let pubs: Vec<Value> = lsp
        .notifications("textDocument/publishDiagnostics")
        .into_iter()
        .filter(|p| p["uri"] == URI)
        .skip(before)
        .collect();
    let versions: Vec<i64> = pubs
        .iter()
        .map(|p| p["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions.last(), Some(&last), "{versions:?}");
    assert!(
        versions.windows(2).all(|w| w[0] < w[1]),
        "an older version was published after a newer one: {versions:?}"
    );
    // Every publish is the diagnostics of the version it names.
    for p in &pubs {
        let v = p["version"].as_i64().unwrap();
        let maintainer = p["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["code"] == "MaintainerDeprecated");
        assert_eq!(maintainer, v % 2 == 0, "version {v}: {p}");
    }
}

#[test]
fn closing_a_document_clears_its_diagnostics() {
    let lsp = Lsp::start_default();
    lsp.open(URI, "FROM a\n");
    lsp.diagnostics(URI, 1);
    lsp.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": URI}}),
    );
    let p = lsp.notification_where("textDocument/publishDiagnostics", 0, |p| {
        p["uri"] == URI && p.get("version").is_none_or(Value::is_null)
    });
    assert_eq!(p["diagnostics"], json!([]));
}

#[test]
fn serve_subcommand_with_pull_mode_answers_text_document_diagnostic() {
    let mut lsp = Lsp::spawn(&["serve", "--diagnostic-mode", "pull"]);
    let init = lsp.request("initialize", json!({"capabilities": full_capabilities()}));
    assert_eq!(
        init["capabilities"]["diagnosticProvider"]["identifier"],
        "buildkit-lsp"
    );
    lsp.notify("initialized", json!({}));
    lsp.open(URI, "FROM a\n");
    let r = lsp.request(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": URI}}),
    );
    assert_eq!(r["kind"], "full");
    assert_eq!(r["items"], json!([]));
    let id = r["resultId"].clone();
    let r = lsp.request(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": URI}, "previousResultId": id}),
    );
    assert_eq!(r, json!({"kind": "unchanged", "resultId": id}));
    // Pull mode publishes nothing.
    assert_eq!(lsp.count("textDocument/publishDiagnostics"), 0);
}

/// Pull mode: a change that is not an edit (here the settings) invalidates
/// what the client pulled: a client with `refreshSupport` is asked to
/// re-pull, and the re-pull is answered in full, never `unchanged`.
#[test]
fn pull_clients_are_asked_to_re_pull_after_a_change_that_is_not_an_edit() {
    let mut caps = full_capabilities();
    caps["workspace"]["diagnostics"] = json!({"refreshSupport": true});
    let mut lsp = Lsp::spawn(&["serve", "--diagnostic-mode", "pull"]);
    lsp.request("initialize", json!({"capabilities": caps}));
    lsp.notify("initialized", json!({}));
    lsp.open(URI, "FROM a as b\n");
    let pull = |lsp: &mut Lsp, previous: &Value| {
        lsp.request(
            "textDocument/diagnostic",
            json!({"textDocument": {"uri": URI}, "previousResultId": previous}),
        )
    };
    let first = pull(&mut lsp, &Value::Null);
    let codes = |r: &Value| -> Vec<String> {
        r["items"]
            .as_array()
            .map(|a| a.iter().map(|d| d["code"].to_string()).collect())
            .unwrap_or_default()
    };
    assert_eq!(codes(&first), vec!["\"FromAsCasing\""], "{first}");
    assert!(lsp
        .server_requests("workspace/diagnostic/refresh")
        .is_empty());
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"buildkit": {"checks": {"skip": ["FromAsCasing"]}}}}),
    );
    lsp.wait_server_request("workspace/diagnostic/refresh");
    let second = pull(&mut lsp, &first["resultId"]);
    assert_eq!(second["kind"], "full", "{second}");
    assert_eq!(second["items"], json!([]));
    assert_ne!(second["resultId"], first["resultId"]);
    // One change, one refresh: the re-validation of every document is one
    // request, not one per document.
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(lsp.server_requests("workspace/diagnostic/refresh").len(), 1);
}

/// Without `refreshSupport` the server never sends the request (the client
/// would answer it with an error), and a re-pull still sees the change.
#[test]
fn pull_clients_without_refresh_support_are_not_sent_refresh_requests() {
    let mut lsp = Lsp::spawn(&["serve", "--diagnostic-mode", "pull"]);
    lsp.request("initialize", json!({"capabilities": full_capabilities()}));
    lsp.notify("initialized", json!({}));
    lsp.open(URI, "FROM a as b\n");
    let first = lsp.request(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": URI}}),
    );
    assert_eq!(first["items"].as_array().map(Vec::len), Some(1), "{first}");
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"buildkit": {"checks": {"skip": ["FromAsCasing"]}}}}),
    );
    let second = lsp.request(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": URI}, "previousResultId": first["resultId"]}),
    );
    assert_eq!(second["kind"], "full", "{second}");
    assert_eq!(second["items"], json!([]));
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(lsp
        .server_requests("workspace/diagnostic/refresh")
        .is_empty());
}

#[test]
fn code_lens_offers_the_build_and_the_builder_on_line_0_and_named_stages() {
    let mut lsp = Lsp::start_default();
    lsp.open(URI, "FROM a AS build\nFROM b\n");
    let r = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": URI}}),
    );
    let lenses = r.as_array().expect("an array of lenses");
    let titles: Vec<&str> = lenses
        .iter()
        .map(|l| l["command"]["title"].as_str().unwrap_or_default())
        .collect();
    // Line 0: the whole build and the builder; the named stage on its line
    // (also line 0 here); the unnamed last stage gets no lens of its own.
    assert!(titles.contains(&"▶ Build"), "{titles:?}");
    assert!(titles.contains(&"▶ Build stage build"), "{titles:?}");
    assert!(titles.iter().any(|t| t.starts_with("⚒ ")), "{titles:?}");
    assert_eq!(lenses.len(), 3, "{r}");
    let stage = lenses
        .iter()
        .find(|l| l["command"]["title"] == "▶ Build stage build")
        .unwrap();
    assert_eq!(stage["command"]["command"], "buildkit.build");
    assert_eq!(
        stage["command"]["arguments"],
        json!([{"uri": URI, "target": "build"}])
    );
}

#[test]
fn cancel_request_answers_request_cancelled() {
    let mut lsp = Lsp::start_default();
    // reloadSettings waits for the client's workspace/configuration answer,
    // which this client withholds, so the request is still pending.
    lsp.answer_configuration.store(false, Ordering::SeqCst);
    let before = lsp.server_requests("workspace/configuration").len();
    let id = lsp.send_request(
        "workspace/executeCommand",
        json!({"command": "buildkit.reloadSettings"}),
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while lsp.server_requests("workspace/configuration").len() == before {
        assert!(
            Instant::now() < deadline,
            "server never asked for configuration"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    lsp.notify("$/cancelRequest", json!({"id": id}));
    let r = lsp.response(json!(id));
    assert_eq!(r["error"]["code"], -32800, "{r}");
    // Still serving.
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(info["name"], "buildkit-lsp");
}

#[test]
fn exit_without_shutdown_exits_with_status_1() {
    let (mut lsp, _) = Lsp::start(json!({}), Value::Null);
    lsp.notify("exit", Value::Null);
    let deadline = Instant::now() + Duration::from_secs(5);
    while lsp.alive() {
        assert!(Instant::now() < deadline, "server did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(lsp.exit_code(), Some(1));
}

/// Resident kB of the server's `[heap]` mapping (glibc's main arena).
fn heap_rss_kb(pid: u32) -> u64 {
    let smaps = std::fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut in_heap = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        let is_header =
            first.contains('-') && first.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
        if is_header {
            in_heap = line.ends_with("[heap]");
        } else if in_heap && line.starts_with("Rss:") {
            total += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap();
        }
    }
    total
}

#[test]
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn large_document_texts_stay_out_of_the_main_heap() {
    // 20 texts of 256 KiB (5 MiB): with glibc's default dynamic mmap
    // threshold they end up in `[heap]` after the first large free; the
    // server's fixed 64 KiB threshold (src/lsp/memory.rs) keeps them in
    // their own mappings, freed whole on the next edit.
    let lsp = Lsp::start_default();
    let line = format!("RUN echo {}\n", "x".repeat(1014));
    let text = format!("FROM alpine\n{}", line.repeat(256 * 1024 / line.len()));
    let uri = |i: usize| format!("file:///mem/{i}/Dockerfile");
    lsp.open(&uri(0), &text);
    lsp.diagnostics(&uri(0), 1);
    let before = heap_rss_kb(lsp.pid());
    for i in 1..20 {
        lsp.open(&uri(i), &text);
    }
    for i in 1..20 {
        lsp.diagnostics(&uri(i), 1);
    }
    let grown = heap_rss_kb(lsp.pid()).saturating_sub(before);
    // The 19 later texts are 4,864 kB; in the heap they would show here
    // (measured in a debug build: passes with the tuning, 5.9 MB
    // without, i.e. with `MALLOC_MMAP_THRESHOLD_=33554432`). The rest of
    // the server (builder state, packed texts, analysis) grows the heap by
    // about 1 MB on its own, hence the 2 MB bound.
    assert!(
        grown < 2048,
        "[heap] grew by {grown} kB: texts landed in the main heap"
    );
}
