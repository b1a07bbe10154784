//! Heredoc delimiters as symbols, everything inside ONBUILD, the outline's
//! directives and deprecation tags, and quick fixes for syntax errors, over
//! stdio.

mod lsp_support;

use lsp_support::{pos, range, Lsp};
use serde_json::{json, Value};

const URI: &str = "file:///structure/Dockerfile";

fn open(text: &str) -> (Lsp, Vec<Value>) {
    let lsp = Lsp::start_default();
    lsp.open(URI, text);
    let diags = lsp.diagnostics(URI, 1);
    (lsp, diags)
}

fn at(method: &str, line: u32, character: u32) -> (String, Value) {
    (
        method.to_string(),
        json!({"textDocument": {"uri": URI}, "position": pos(line, character)}),
    )
}

fn request(lsp: &mut Lsp, (method, params): (String, Value)) -> Value {
    lsp.request(&method, params)
}

const HEREDOC: &str =
    "FROM a\nRUN <<-EOF bash\n\techo hi\n\tEOF\nCOPY <<\"CONF\" /etc/app.conf\nkey = value\nCONF\n";

#[test]
fn heredoc_delimiters_navigate_highlight_and_rename_together() {
    let (mut lsp, _) = open(HEREDOC);
    // From the terminator to the opening delimiter.
    let def = request(&mut lsp, at("textDocument/definition", 3, 2));
    assert_eq!(def["range"], range(1, 7, 1, 10));
    let def = request(&mut lsp, at("textDocument/definition", 6, 1));
    assert_eq!(def["range"], range(4, 8, 4, 12));

    let hl = request(&mut lsp, at("textDocument/documentHighlight", 1, 8));
    assert_eq!(
        hl,
        json!([{"range": range(1, 7, 1, 10), "kind": 3}, {"range": range(3, 1, 3, 4), "kind": 2}])
    );

    let (m, mut p) = at("textDocument/references", 6, 0);
    p["context"] = json!({"includeDeclaration": false});
    let refs = request(&mut lsp, (m, p));
    assert_eq!(refs, json!([{"uri": URI, "range": range(6, 0, 6, 4)}]));

    let prep = request(&mut lsp, at("textDocument/prepareRename", 3, 1));
    assert_eq!(prep, range(3, 1, 3, 4));
    let (m, mut p) = at("textDocument/rename", 1, 9);
    p["newName"] = json!("SCRIPT");
    let edit = request(&mut lsp, (m, p));
    let edits = &edit["changes"][URI];
    assert_eq!(
        edits,
        &json!([{"range": range(1, 7, 1, 10), "newText": "SCRIPT"},
                {"range": range(3, 1, 3, 4), "newText": "SCRIPT"}])
    );
}

#[test]
fn a_heredoc_rename_that_a_body_line_would_end_is_refused() {
    let (mut lsp, _) = open("FROM a\nRUN <<EOF\nEND\nEOF\n");
    let (m, mut p) = at("textDocument/rename", 1, 7);
    p["newName"] = json!("END");
    let err = lsp.request_error(&m, p);
    assert_eq!(err["code"], -32602);
    assert!(
        err["message"].as_str().unwrap().contains("would end there"),
        "{err}"
    );
}

#[test]
fn heredoc_bodies_fold() {
    let (mut lsp, _) = open(HEREDOC);
    let folds = lsp.request(
        "textDocument/foldingRange",
        json!({"textDocument": {"uri": URI}}),
    );
    let spans: Vec<(u64, u64)> = folds
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["startLine"].as_u64().unwrap(),
                f["endLine"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(spans.contains(&(1, 3)), "{spans:?}");
    assert!(spans.contains(&(4, 6)), "{spans:?}");
}

const ONBUILD: &str = "FROM a\nONBUILD COPY --chown=app src /dst\nonbuild run --mount=type=cache,target=/c make\nONBUILD COPY --form=x a b\n";

#[test]
fn the_instruction_inside_onbuild_completes_hovers_and_reports_in_place() {
    let (mut lsp, diags) = open(ONBUILD);
    // BuildKit checks a trigger where it runs, in a child stage built FROM
    // this one (tests/dockerfile_checks.rs, recorded from BuildKit): with no
    // such child here, the trigger's unknown flag is not an error yet.
    assert!(
        !diags
            .iter()
            .any(|d| d["message"].as_str().unwrap_or("").contains("--form")),
        "{diags:?}"
    );

    let items = lsp.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": URI}, "position": pos(1, 15)}),
    );
    let labels: Vec<&str> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"--from") && labels.contains(&"--chown"),
        "{labels:?}"
    );
    assert!(!labels.contains(&"--mount"), "{labels:?}");

    let h = request(&mut lsp, at("textDocument/hover", 1, 9));
    assert_eq!(h["range"], range(1, 8, 1, 12));
    assert!(h["contents"]["value"]
        .as_str()
        .unwrap()
        .starts_with("**COPY**"));
    let h = request(&mut lsp, at("textDocument/hover", 1, 16));
    assert!(h["contents"]["value"]
        .as_str()
        .unwrap()
        .starts_with("`COPY --chown="));
    let h = request(&mut lsp, at("textDocument/hover", 2, 22));
    assert!(
        h["contents"]["value"]
            .as_str()
            .unwrap()
            .starts_with("**--mount=type=cache**"),
        "{h}"
    );

    // Formatting upper-cases both keywords.
    let edits = lsp.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        edits,
        json!([{"range": range(2, 0, 2, 7), "newText": "ONBUILD"},
               {"range": range(2, 8, 2, 11), "newText": "RUN"}])
    );
}

#[test]
fn the_outline_lists_directives_and_tags_deprecated_instructions() {
    let text = "# syntax=docker/dockerfile:1\n# check=skip=JSONArgsRecommended\nFROM a AS base\nMAINTAINER me\nENV KEY value\nENV OK=1\n";
    let (mut lsp, _) = open(text);
    let syms = lsp.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let syms = syms.as_array().unwrap();
    assert_eq!(syms[0]["name"], "# syntax");
    assert_eq!(syms[0]["detail"], "docker/dockerfile:1");
    assert_eq!(syms[0]["selectionRange"], range(0, 2, 0, 8));
    assert_eq!(syms[1]["name"], "# check");
    assert_eq!(syms[2]["name"], "base");
    let children = syms[2]["children"].as_array().unwrap();
    let tagged: Vec<(&str, bool)> = children
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["tags"] == json!([1])))
        .collect();
    assert_eq!(
        tagged,
        vec![
            ("FROM", false),
            ("MAINTAINER", true),
            ("ENV", true),
            ("ENV", false)
        ]
    );
}

fn fixes(lsp: &mut Lsp, diag: &Value) -> Vec<(String, Value)> {
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": URI}, "range": diag["range"],
               "context": {"diagnostics": [diag]}}),
    );
    actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["edit"].is_object() && a["isPreferred"] == true)
        .map(|a| {
            (
                a["title"].as_str().unwrap().to_string(),
                a["edit"]["changes"][URI].clone(),
            )
        })
        .collect()
}

#[test]
fn syntax_errors_with_a_mechanical_fix_get_one() {
    let text = "# escape=/\nFORM a\nFROM image xs name\nCOPY --form=name a b\nHEALTHCHECK --intervl=5s CMD true\nCMD ['run', 'it']\n";
    let (mut lsp, diags) = open(text);
    let fix_of = |lsp: &mut Lsp, needle: &str| {
        let d = diags
            .iter()
            .find(|d| d["message"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no diagnostic with {needle:?} in {diags:?}"));
        fixes(lsp, d)
    };
    assert_eq!(
        fix_of(&mut lsp, "invalid escape token"),
        vec![(
            "Change the escape character to '\\'".to_string(),
            json!([{"range": range(0, 9, 0, 10), "newText": "\\"}])
        )]
    );
    assert_eq!(
        fix_of(&mut lsp, "unknown instruction: FORM"),
        vec![(
            "Change 'FORM' to 'FROM'".to_string(),
            json!([{"range": range(1, 0, 1, 4), "newText": "FROM"}])
        )]
    );
    // The misspelled AS gets "AS", and no casing fix of "xs".
    assert_eq!(
        fix_of(&mut lsp, "FROM requires either one or three arguments"),
        vec![(
            "Change 'xs' to 'AS'".to_string(),
            json!([{"range": range(2, 11, 2, 13), "newText": "AS"}])
        )]
    );
    assert!(
        !diags.iter().any(|d| d["code"] == "FromAsCasing"),
        "{diags:?}"
    );
    assert_eq!(
        fix_of(&mut lsp, "unknown flag: --form"),
        vec![(
            "Change 'form' to 'from'".to_string(),
            json!([{"range": range(3, 7, 3, 11), "newText": "from"}])
        )]
    );
    assert_eq!(
        fix_of(&mut lsp, "unknown flag: --intervl"),
        vec![(
            "Change 'intervl' to 'interval'".to_string(),
            json!([{"range": range(4, 14, 4, 21), "newText": "interval"}])
        )]
    );
    assert_eq!(
        fix_of(&mut lsp, "JSON arguments recommended for CMD"),
        vec![(
            "Write the JSON array with double quotes".to_string(),
            json!([{"range": range(5, 4, 5, 17), "newText": "[\"run\", \"it\"]"}])
        )]
    );
}

#[test]
fn document_symbols_always_reflect_the_edits_sent_before_them() {
    let (mut lsp, _) = open("FROM a AS s0\n");
    let mut text = String::from("FROM a AS s0\n");
    for v in 2..40 {
        text.push_str(&format!("FROM a AS s{}\n", v - 1));
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": URI, "version": v}, "contentChanges": [{"text": text}]}),
        );
        // No wait: the request follows the change on the wire.
        let syms = lsp.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        );
        let names: Vec<&str> = syms
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), v as usize, "version {v}: {names:?}");
        assert_eq!(names.last().copied(), Some(format!("s{}", v - 1).as_str()));
    }
}

/// A bake or Compose file is not a Dockerfile, whatever language id the
/// client sends: no Dockerfile outline, formatting, lenses or checks on it.
#[test]
fn bake_and_compose_files_get_no_dockerfile_answers() {
    let mut lsp = Lsp::start_default();
    let bake = "file:///kinds/docker-bake.hcl";
    let bake_text = "target \"app\" {\n  args = {\n    A = \"1\"\n  }\n}\n";
    let compose = "file:///kinds/compose.yaml";
    let compose_text = "services:\n  app:\n    build:\n      context: .\n      cache_to: [type=local,dest=/tmp/c]\n";
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": bake, "languageId": "hcl", "version": 1, "text": bake_text}}),
    );
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": compose, "languageId": "dockerfile", "version": 1, "text": compose_text}}),
    );
    for uri in [bake, compose] {
        let symbols = lsp.request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        );
        let names: Vec<&str> = symbols
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["name"].as_str())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| ["TARGET", "ARGS", "SERVICES:", "BUILD:"]
                    .iter()
                    .any(|i| n.to_ascii_uppercase().starts_with(i))),
            "{uri}: Dockerfile instructions in the outline: {symbols}"
        );
        let edits = lsp.request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
        );
        let dedented = edits
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["newText"] == "" && e["range"]["start"]["character"] == 0);
        assert!(
            !dedented,
            "{uri}: Dockerfile formatting strips indentation: {edits}"
        );
    }
    let lenses = lsp.request(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": compose}}),
    );
    let titles: Vec<&str> = lenses
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["command"]["title"].as_str())
        .collect();
    assert!(
        !titles
            .iter()
            .any(|t| *t == "▶ Build" || t.starts_with("▶ Build (")),
        "a Compose file gets the Dockerfile's build lens: {titles:?}"
    );
    // Nothing here is a build finding yet (a builder is not selected), and
    // read as a Dockerfile every line would be an unknown instruction.
    let diags = lsp.diagnostics(compose, 1);
    assert!(
        diags.is_empty(),
        "Dockerfile diagnostics on a Compose file: {diags:?}"
    );
}
