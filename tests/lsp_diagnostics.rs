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
