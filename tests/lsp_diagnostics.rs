//! Diagnostics from the parser and BuildKit's build checks, settings that
//! change them, and the code actions that fix or silence them.

mod lsp_support;

use lsp_support::{full_capabilities, pos, range, Lsp};
use serde_json::{json, Value};

const URI: &str = "file:///d/Dockerfile";
// Planted problems, with the columns counted by hand:
//   line 0 `as` at 17..19 (FromAsCasing), `Build` at 20..25 (StageNameCasing)
//   line 1 MAINTAINER (MaintainerDeprecated), line 3 WORKDIR relative/dir at 8..20
const TEXT: &str = "FROM alpine:3.20 as Build
MAINTAINER Jane <j@example.com>
RUN echo hi
WORKDIR relative/dir
";

fn by_code<'a>(diags: &'a [Value], code: &str) -> &'a Value {
    diags
        .iter()
        .find(|d| d["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {diags:?}"))
}

#[test]
fn check_findings_are_published_with_rule_codes_and_links() {
    let lsp = Lsp::start_default();
    lsp.open(URI, TEXT);
    let diags = lsp.diagnostics(URI, 1);
    let mut codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "FromAsCasing",
            "MaintainerDeprecated",
            "StageNameCasing",
            "WorkdirRelativePath"
        ]
    );
    let d = by_code(&diags, "StageNameCasing");
    assert_eq!(d["range"], range(0, 20, 0, 25));
    assert_eq!(d["severity"], 2);
    assert_eq!(d["source"], "buildkit-lsp");
    assert_eq!(d["message"], "Stage name 'Build' should be lowercase");
    assert_eq!(
        d["codeDescription"]["href"],
        "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/"
    );
    assert_eq!(
        by_code(&diags, "FromAsCasing")["range"],
        range(0, 17, 0, 19)
    );
    assert_eq!(
        by_code(&diags, "WorkdirRelativePath")["range"]["start"],
        pos(3, 8)
    );
    assert_eq!(by_code(&diags, "MaintainerDeprecated")["tags"], json!([2]));
}

#[test]
fn syntax_errors_are_errors_without_a_rule_code() {
    let lsp = Lsp::start_default();
    lsp.open(
        URI,
        "FROM alpine\nCOPY --from= /a /b\nRUN <<EOF\necho never closed\n",
    );
    let diags = lsp.diagnostics(URI, 1);
    assert!(!diags.is_empty());
    let errors: Vec<&Value> = diags.iter().filter(|d| d["severity"] == 1).collect();
    assert!(!errors.is_empty(), "{diags:?}");
    assert!(errors.iter().all(|d| d["source"] == "buildkit-lsp"));
}

#[test]
fn settings_skip_rules_and_override_severity() {
    let (lsp, _) = Lsp::start(
        full_capabilities(),
        json!({"buildkit": {"diagnostics": {"debounceMs": 0},
                            "checks": {"skip": ["FromAsCasing"], "severity": {"StageNameCasing": "error", "WorkdirRelativePath": "off"}}}}),
    );
    lsp.open(URI, TEXT);
    let diags = lsp.diagnostics(URI, 1);
    let mut codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, vec!["MaintainerDeprecated", "StageNameCasing"]);
    assert_eq!(by_code(&diags, "StageNameCasing")["severity"], 1);
    // A new skip list through didChangeConfiguration re-publishes at once.
    lsp.notify(
        "workspace/didChangeConfiguration",
        json!({"settings": {"buildkit": {"checks": {"skip": ["MaintainerDeprecated", "FromAsCasing", "StageNameCasing", "WorkdirRelativePath"]}}}}),
    );
    let p = lsp.notification_where("textDocument/publishDiagnostics", 1, |p| p["uri"] == URI);
    assert_eq!(p["diagnostics"], json!([]));
}

#[test]
fn the_file_check_directive_is_honoured() {
    let lsp = Lsp::start_default();
    lsp.open(
        URI,
        &format!("# check=skip=StageNameCasing,FromAsCasing;error=true\n{TEXT}"),
    );
    let diags = lsp.diagnostics(URI, 1);
    let mut codes: Vec<&str> = diags.iter().map(|d| d["code"].as_str().unwrap()).collect();
    codes.sort();
    assert_eq!(codes, vec!["MaintainerDeprecated", "WorkdirRelativePath"]);
    assert!(
        diags.iter().all(|d| d["severity"] == 1),
        "error=true makes them errors"
    );
}

fn actions(lsp: &mut Lsp, r: Value) -> Vec<Value> {
    lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": r, "context": {"diagnostics": []}}),
    )
    .as_array()
    .cloned()
    .unwrap()
}

#[test]
fn code_actions_fix_and_ignore_rules() {
    let mut lsp = Lsp::start_default();
    lsp.open(URI, TEXT);
    lsp.diagnostics(URI, 1);
    let acts = actions(&mut lsp, range(0, 21, 0, 21));
    let titles: Vec<&str> = acts.iter().map(|a| a["title"].as_str().unwrap()).collect();
    assert!(
        titles.contains(&"Ignore StageNameCasing in this file"),
        "{titles:?}"
    );
    assert!(
        titles.contains(&"Ignore StageNameCasing everywhere"),
        "{titles:?}"
    );
    // The checks' own fix lowercases the stage name.
    let fix = acts
        .iter()
        .find(|a| a["isPreferred"] == true && a["diagnostics"][0]["code"] == "StageNameCasing")
        .expect("a fix");
    assert_eq!(
        fix["edit"]["changes"][URI],
        json!([{"range": range(0, 20, 0, 25), "newText": "build"}])
    );
    // Ignore in this file: a new directive on line 0.
    let ignore = acts
        .iter()
        .find(|a| a["title"] == "Ignore StageNameCasing in this file")
        .unwrap();
    assert_eq!(
        ignore["edit"]["changes"][URI],
        json!([{"range": range(0, 0, 0, 0), "newText": "# check=skip=StageNameCasing\n"}])
    );
    let everywhere = acts
        .iter()
        .find(|a| a["title"] == "Ignore StageNameCasing everywhere")
        .unwrap();
    assert_eq!(
        everywhere["command"]["command"],
        "buildkit.ignoreRuleEverywhere"
    );
    assert_eq!(
        everywhere["command"]["arguments"],
        json!(["StageNameCasing"])
    );
}

#[test]
fn ignore_in_file_extends_an_existing_skip_list() {
    let mut lsp = Lsp::start_default();
    lsp.open(
        URI,
        &format!("# syntax=docker/dockerfile:1\n# check=skip=FromAsCasing\n{TEXT}"),
    );
    lsp.diagnostics(URI, 1);
    let acts = actions(&mut lsp, range(5, 9, 5, 9));
    let ignore = acts
        .iter()
        .find(|a| a["title"] == "Ignore WorkdirRelativePath in this file")
        .unwrap();
    // `# check=skip=FromAsCasing` ends at column 25 of line 1.
    assert_eq!(
        ignore["edit"]["changes"][URI],
        json!([{"range": range(1, 25, 1, 25), "newText": ",WorkdirRelativePath"}])
    );
}

#[test]
fn ignore_everywhere_command_clears_the_rule_from_all_documents() {
    let mut lsp = Lsp::start_default();
    lsp.open(URI, TEXT);
    lsp.diagnostics(URI, 1);
    let before = lsp.count("textDocument/publishDiagnostics");
    lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.ignoreRuleEverywhere", "arguments": ["MaintainerDeprecated"]}),
    );
    let p = lsp.notification_where("textDocument/publishDiagnostics", before, |p| {
        p["uri"] == URI
    });
    let codes: Vec<&str> = p["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 3);
    assert!(!codes.contains(&"MaintainerDeprecated"));
}

/// The publishes for `uri` so far, as lists of rule codes.
fn published_codes(lsp: &Lsp, uri: &str) -> Vec<Vec<String>> {
    lsp.notifications("textDocument/publishDiagnostics")
        .iter()
        .filter(|p| p["uri"] == uri)
        .map(|p| {
            p["diagnostics"]
                .as_array()
                .map(|d| {
                    d.iter()
                        .map(|x| x["code"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn copy_ignored_file_follows_the_dockerignore_and_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".dockerignore"), "# secrets\nsecret.txt\n").unwrap();
    let df = dir.path().join("Dockerfile");
    let uri = format!("file://{}", df.display());
    let lsp = Lsp::start_default();
    // The server asks to watch ignore files (the client can register).
    let reg = lsp.wait_server_request("client/registerCapability");
    let watchers = &reg["registrations"][0]["registerOptions"]["watchers"];
    assert_eq!(
        reg["registrations"][0]["method"],
        "workspace/didChangeWatchedFiles"
    );
    assert_eq!(watchers[0]["globPattern"], "**/.dockerignore");
    assert_eq!(watchers[1]["globPattern"], "**/*.dockerignore");

    lsp.open(&uri, "FROM alpine\nCOPY secret.txt /\n");
    let diags = lsp.diagnostics(&uri, 1);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = by_code(&diags, "CopyIgnoredFile");
    // `secret.txt` is at columns 5..15 of line 1.
    assert_eq!(d["range"], range(1, 5, 1, 15));
    assert_eq!(
        d["message"],
        "Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore"
    );

    // The user edits the .dockerignore; the editor reports the change.
    std::fs::write(dir.path().join(".dockerignore"), "other.txt\n").unwrap();
    let before = published_codes(&lsp, &uri).len();
    lsp.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": format!("file://{}/.dockerignore", dir.path().display()), "type": 2}]}),
    );
    let p = lsp.notification_where("textDocument/publishDiagnostics", 0, |p| {
        p["uri"] == uri.as_str() && p["diagnostics"].as_array().is_some_and(|d| d.is_empty())
    });
    assert_eq!(p["version"], 1);
    assert_eq!(published_codes(&lsp, &uri).len(), before + 1);

    // `Dockerfile.dockerignore` wins over the context's file; a save of it
    // (didSave) is enough to re-read it.
    let own = dir.path().join("Dockerfile.dockerignore");
    std::fs::write(&own, "secret*\n").unwrap();
    lsp.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": format!("file://{}", own.display())}}),
    );
    let p = lsp.notification_where("textDocument/publishDiagnostics", before + 1, |p| {
        p["uri"] == uri.as_str()
    });
    assert_eq!(p["diagnostics"][0]["code"], "CopyIgnoredFile");
    assert_eq!(p["diagnostics"][0]["range"], range(1, 5, 1, 15));
}

#[test]
fn no_dockerignore_means_no_copy_ignored_file() {
    let dir = tempfile::tempdir().unwrap();
    let uri = format!("file://{}/Dockerfile", dir.path().display());
    let lsp = Lsp::start_default();
    lsp.open(&uri, "FROM alpine\nCOPY secret.txt /\n");
    assert_eq!(lsp.diagnostics(&uri, 1), Vec::<Value>::new());
}
