//! Bake files as a language, over stdio: outline, folding, formatting,
//! completion, hover, navigation (into the Dockerfile too), rename across
//! the override file, links, semantic tokens, inlay hints, checks and their
//! quick fixes. The fixture folder `fixtures/bake-lsp` holds a bake file,
//! its override file (never opened: read from disk) and the Dockerfile.

mod lsp_support;

use std::path::PathBuf;

use lsp_support::{pos, range, Lsp};
use serde_json::{json, Value};

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bake-lsp")
}

fn uri(name: &str) -> String {
    format!("file://{}", folder().join(name).display())
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(folder().join(name)).unwrap()
}

/// A server with the fixture's bake file open under `language_id`, or with
/// `text` in its place (unsaved edits).
fn open_bake(text: Option<&str>, language_id: &str) -> Lsp {
    let lsp = Lsp::start_default();
    let text = text.map_or_else(|| fixture("docker-bake.hcl"), str::to_string);
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri("docker-bake.hcl"), "languageId": language_id, "version": 1, "text": text}}),
    );
    lsp
}

fn at(lsp: &mut Lsp, method: &str, line: u32, character: u32) -> Value {
    lsp.request(
        method,
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "position": pos(line, character)}),
    )
}

fn labels(items: &Value) -> Vec<String> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["label"].as_str().map(str::to_string))
        .collect()
}

fn hover_text(h: &Value) -> String {
    h["contents"]["value"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn outline_lists_groups_targets_and_variables_with_their_attributes() {
    let mut lsp = open_bake(None, "hcl");
    let symbols = lsp.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}}),
    );
    let top: Vec<(&str, &str)> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["detail"].as_str().unwrap()))
        .collect();
    assert_eq!(
        top,
        [
            ("TAG", "variable"),
            ("default", "group"),
            ("base", "target"),
            ("app", "target")
        ]
    );
    let base = &symbols[2];
    let children: Vec<&str> = base["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(children, ["dockerfile", "args"]);
    assert_eq!(base["children"][1]["children"][0]["name"], "VERSION");
    assert_eq!(base["selectionRange"], range(8, 8, 8, 12));
}

#[test]
fn folding_covers_blocks_and_multiline_values() {
    let mut lsp = open_bake(None, "hcl");
    let ranges = lsp.request(
        "textDocument/foldingRange",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}}),
    );
    let lines: Vec<(u64, u64)> = ranges
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["startLine"].as_u64().unwrap(),
                r["endLine"].as_u64().unwrap(),
            )
        })
        .collect();
    for want in [(0, 1), (8, 12), (10, 11), (15, 18)] {
        assert!(lines.contains(&want), "{want:?} not in {lines:?}");
    }
}

fn format(lsp: &mut Lsp, name: &str) -> Value {
    lsp.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": uri(name)}, "options": {"tabSize": 4, "insertSpaces": true}}),
    )
}

#[test]
fn formatting_aligns_hcl_and_a_formatted_file_gets_no_edit() {
    let messy = "target \"app\"{\ndockerfile=\"Dockerfile\"\n    tags = [\"a\"]\n\n\n}\n";
    let mut lsp = open_bake(Some(messy), "hcl");
    let edits = format(&mut lsp, "docker-bake.hcl");
    assert_eq!(edits.as_array().unwrap().len(), 1, "{edits}");
    assert_eq!(
        edits[0]["newText"],
        "target \"app\" {\n  dockerfile = \"Dockerfile\"\n  tags       = [\"a\"]\n\n}\n"
    );
    // The fixture is formatted already.
    let mut lsp = open_bake(None, "hcl");
    assert_eq!(format(&mut lsp, "docker-bake.hcl"), json!([]));
}

#[test]
fn json_bake_files_format_in_their_own_order() {
    let lsp = Lsp::start_default();
    let mut lsp = lsp;
    let u = uri("docker-bake.json");
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": u, "languageId": "json", "version": 1,
               "text": "{\"target\":{\"z\":{\"tags\":[\"a\"]},\"a\":{}}}"}}),
    );
    let edits = format(&mut lsp, "docker-bake.json");
    assert_eq!(
        edits[0]["newText"],
        "{\n  \"target\": {\n    \"z\": {\n      \"tags\": [\n        \"a\"\n      ]\n    },\n    \"a\": {}\n  }\n}\n"
    );
    let symbols = lsp.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": u}}),
    );
    let names: Vec<&str> = symbols
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["z", "a"]);
}

const TYPING: &str = "target \"base\" {\n  dockerfile = \"Dockerfile\"\n}\ntarget \"app\" {\n  inherits = [\"b\"]\n  target = \"r\"\n  args = {\n    V\n  }\n  cache-to = [\"t\"]\n  tags = [upp]\n  do\n}\nta\n";

#[test]
fn completion_offers_blocks_attributes_and_values_by_attribute() {
    let mut lsp = open_bake(Some(TYPING), "hcl");
    let top = labels(&at(&mut lsp, "textDocument/completion", 13, 2));
    assert_eq!(
        top,
        [
            "target",
            "group",
            "variable",
            "function",
            "target \"build\"",
            "target \"runtime\""
        ],
        "block types, then a target for each stage no target builds"
    );
    let attrs = at(&mut lsp, "textDocument/completion", 11, 4);
    let names = labels(&attrs);
    assert!(names.contains(&"dockerfile".to_string()), "{names:?}");
    assert!(
        !names.contains(&"inherits".to_string()),
        "already set: {names:?}"
    );
    let df = attrs
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "dockerfile")
        .unwrap();
    assert_eq!(df["detail"], "dockerfile (string)");
    assert!(df["documentation"]["value"]
        .as_str()
        .unwrap()
        .contains("relative to the context"));
    assert_eq!(
        labels(&at(&mut lsp, "textDocument/completion", 4, 16)),
        ["base"]
    );
    assert_eq!(
        labels(&at(&mut lsp, "textDocument/completion", 5, 13)),
        ["build", "runtime"],
        "the Dockerfile's stages"
    );
    let args = labels(&at(&mut lsp, "textDocument/completion", 7, 5));
    assert_eq!(args, ["VERSION", "COMMIT"], "the Dockerfile's ARGs");
    let cache = labels(&at(&mut lsp, "textDocument/completion", 9, 16));
    assert!(
        cache.contains(&"type=registry".to_string()) && cache.contains(&"type=inline".to_string()),
        "{cache:?}"
    );
    let expr = at(&mut lsp, "textDocument/completion", 10, 13);
    let upper = expr
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "upper")
        .expect("built-in functions in expressions");
    assert_eq!(upper["detail"], "upper(str)");
}

#[test]
fn hover_documents_attributes_and_shows_values_targets_and_args() {
    let mut lsp = open_bake(None, "hcl");
    let attr = hover_text(&at(&mut lsp, "textDocument/hover", 9, 4));
    assert!(attr.starts_with("**dockerfile** (string)"), "{attr}");
    let var = hover_text(&at(&mut lsp, "textDocument/hover", 18, 30));
    assert!(var.contains("**variable TAG** = `latest`"), "{var}");
    assert!(var.contains("its default"), "{var}");
    let target = hover_text(&at(&mut lsp, "textDocument/hover", 16, 16));
    assert!(target.contains("**target base**"), "{target}");
    let app = hover_text(&at(&mut lsp, "textDocument/hover", 15, 9));
    assert!(
        app.contains("platforms = [\"linux/amd64\"]"),
        "the override file's attribute: {app}"
    );
    assert!(
        app.contains("args = { VERSION = \"1.0\" }"),
        "inherited: {app}"
    );
    let arg = hover_text(&at(&mut lsp, "textDocument/hover", 11, 6));
    assert!(
        arg.contains("**ARG VERSION**") && arg.contains("`0.9`"),
        "{arg}"
    );
}

fn locations(v: &Value) -> Vec<(String, u64, u64)> {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            (
                l["uri"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                l["range"]["start"]["line"].as_u64().unwrap(),
                l["range"]["start"]["character"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn definition_leads_to_variables_targets_stages_files_and_args() {
    let mut lsp = open_bake(None, "hcl");
    let def = |lsp: &mut Lsp, l, c| locations(&at(lsp, "textDocument/definition", l, c));
    assert_eq!(def(&mut lsp, 18, 30), [("docker-bake.hcl".into(), 0, 10)]);
    assert_eq!(def(&mut lsp, 16, 16), [("docker-bake.hcl".into(), 8, 8)]);
    assert_eq!(
        def(&mut lsp, 5, 15),
        [
            ("docker-bake.hcl".into(), 15, 8),
            ("docker-bake.override.hcl".into(), 0, 8)
        ],
        "a target is defined in the bake file and its override"
    );
    assert_eq!(def(&mut lsp, 17, 16), [("Dockerfile".into(), 5, 21)]);
    assert_eq!(def(&mut lsp, 9, 17), [("Dockerfile".into(), 0, 0)]);
    assert_eq!(def(&mut lsp, 11, 6), [("Dockerfile".into(), 0, 4)]);
}

#[test]
fn references_highlight_and_rename_reach_the_override_file() {
    let mut lsp = open_bake(None, "hcl");
    let refs = lsp.request(
        "textDocument/references",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "position": pos(15, 9),
               "context": {"includeDeclaration": true}}),
    );
    assert_eq!(
        locations(&refs),
        [
            ("docker-bake.hcl".into(), 5, 14),
            ("docker-bake.hcl".into(), 15, 8),
            ("docker-bake.override.hcl".into(), 0, 8)
        ]
    );
    let hl = at(&mut lsp, "textDocument/documentHighlight", 0, 11);
    assert_eq!(
        hl.as_array().unwrap().len(),
        2,
        "declaration and ${{TAG}}: {hl}"
    );
    let prepared = at(&mut lsp, "textDocument/prepareRename", 15, 9);
    assert_eq!(prepared, range(15, 8, 15, 11));
    let edit = lsp.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "position": pos(15, 9), "newName": "web"}),
    );
    let changes = edit["changes"].as_object().unwrap();
    assert_eq!(
        changes[&uri("docker-bake.hcl")].as_array().unwrap().len(),
        2
    );
    assert_eq!(
        changes[&uri("docker-bake.override.hcl")][0]["range"],
        range(0, 8, 0, 11)
    );
    let bad = lsp.request_error(
        "textDocument/rename",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "position": pos(15, 9), "newName": "a b"}),
    );
    assert!(
        bad["message"].as_str().unwrap().contains("cannot rename"),
        "{bad}"
    );
}

#[test]
fn checks_report_unknown_attributes_and_undeclared_args_with_fixes() {
    let text = "target \"app\" {\n  dockrfile = \"Dockerfile\"\n  inherits = [\"nope\"]\n  args = {\n    VERSION = \"1\"\n    REVISION = \"x\"\n  }\n}\ntarget \"other\" {\n  target = \"runtme\"\n}\n";
    let mut lsp = open_bake(Some(text), "hcl");
    let diags = lsp.diagnostics(&uri("docker-bake.hcl"), 1);
    let codes: Vec<&str> = diags.iter().filter_map(|d| d["code"].as_str()).collect();
    for want in [
        "unknown-attribute",
        "unknown-stage",
        "undeclared-arg",
        "unknown-target",
    ] {
        assert!(codes.contains(&want), "{want} missing: {diags:?}");
    }
    let unknown = diags
        .iter()
        .find(|d| d["code"] == "unknown-attribute")
        .unwrap();
    assert!(unknown["message"]
        .as_str()
        .unwrap()
        .contains("Did you mean \"dockerfile\"?"));
    let actions = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "range": range(5, 4, 5, 4),
               "context": {"diagnostics": []}}),
    );
    let add = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "Add `ARG REVISION` to the Dockerfile")
        .unwrap_or_else(|| panic!("no ARG fix in {actions}"));
    let edit = &add["edit"]["changes"][&uri("Dockerfile")][0];
    // In the stage the target builds (the last, `runtime`), after its FROM.
    assert_eq!(edit["range"], range(6, 0, 6, 0));
    assert_eq!(edit["newText"], "ARG REVISION\n");
    let rename = lsp.request(
        "textDocument/codeAction",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "range": range(1, 3, 1, 3),
               "context": {"diagnostics": []}}),
    );
    assert_eq!(rename[0]["title"], "Change to \"dockerfile\"");
}

#[test]
fn links_tokens_and_inlay_hints() {
    let mut lsp = open_bake(None, "hcl");
    let links = lsp.request(
        "textDocument/documentLink",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}}),
    );
    assert_eq!(links[0]["target"], uri("Dockerfile"));
    assert_eq!(links[0]["range"], range(9, 16, 9, 26));
    let tokens = lsp.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}}),
    );
    let data = tokens["data"].as_array().unwrap();
    assert_eq!(data.len() % 5, 0);
    // The first token is `variable` (a keyword, index 0) at 0:0, 8 long.
    assert_eq!(
        &data[..5],
        &[json!(0), json!(0), json!(8), json!(0), json!(0)]
    );
    let hints = lsp.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "range": range(0, 0, 20, 0)}),
    );
    let labels: Vec<&str> = hints
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["label"].as_str())
        .collect();
    assert!(labels.contains(&"(ARG default: 0.9)"), "{labels:?}");
    assert!(
        labels.contains(&"= [\"example/app:latest\"]"),
        "the evaluated tags: {labels:?}"
    );
}

/// A bake file opened as `dockerfile` is still answered as a bake file.
#[test]
fn the_file_name_decides_over_the_language_id() {
    let mut lsp = open_bake(None, "dockerfile");
    let hover = hover_text(&at(&mut lsp, "textDocument/hover", 9, 4));
    assert!(hover.starts_with("**dockerfile**"), "{hover}");
}

/// `target.<name>.<attr>`: the name leads to the target, the attribute to
/// where bake takes its value from (here inherited by `b` from `a`).
#[test]
fn definition_of_a_reused_attribute_is_where_bake_takes_it_from() {
    let text = "target \"a\" {\n  tags = [\"x\"]\n}\ntarget \"b\" {\n  inherits = [\"a\"]\n}\ntarget \"c\" {\n  tags = target.b.tags\n}\n";
    let mut lsp = open_bake(Some(text), "hcl");
    let def = |lsp: &mut Lsp, l, c| locations(&at(lsp, "textDocument/definition", l, c));
    assert_eq!(def(&mut lsp, 7, 17), [("docker-bake.hcl".into(), 3, 8)]);
    assert_eq!(def(&mut lsp, 7, 20), [("docker-bake.hcl".into(), 1, 2)]);
}

/// In the Dockerfile, the value each bake target passes to an ARG.
#[test]
fn the_dockerfile_shows_the_arg_values_bake_targets_pass() {
    let mut lsp = open_bake(None, "hcl");
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri("Dockerfile"), "languageId": "dockerfile", "version": 1, "text": fixture("Dockerfile")}}),
    );
    let hints = lsp.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": uri("Dockerfile")}, "range": range(0, 0, 7, 0)}),
    );
    let found: Vec<(u64, u64, &str)> = hints
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["position"]["line"].as_u64().unwrap(),
                h["position"]["character"].as_u64().unwrap(),
                h["label"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found, [(0, 15, "= 1.0 (bake base), 1.0 (bake app)")]);
}

/// In Restricted Mode nothing is evaluated: a variable's hover shows its
/// default as written and says why there is no value; the features that
/// read the file as written keep working.
#[test]
fn restricted_mode_shows_written_defaults_not_evaluated_values() {
    let (mut lsp, _) = Lsp::start(
        lsp_support::full_capabilities(),
        json!({"trusted": false, "buildkit": {"diagnostics": {"debounceMs": 0}}}),
    );
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri("docker-bake.hcl"), "languageId": "hcl", "version": 1, "text": fixture("docker-bake.hcl")}}),
    );
    let var = hover_text(&at(&mut lsp, "textDocument/hover", 18, 30));
    assert!(var.contains("Default: `\"latest\"`"), "{var}");
    assert!(var.contains("Restricted Mode"), "{var}");
    assert!(
        !var.contains("= `latest`"),
        "evaluated in Restricted Mode: {var}"
    );
    let hints = lsp.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": uri("docker-bake.hcl")}, "range": range(0, 0, 20, 0)}),
    );
    assert!(
        !hints.to_string().contains("example/app:latest"),
        "evaluated values in Restricted Mode: {hints}"
    );
    assert_eq!(
        labels(&at(&mut lsp, "textDocument/completion", 17, 16)),
        ["build", "runtime"]
    );
}

/// Every request at every position of a half-typed file and of the fixture
/// answers (no error, no crash): the features never assume a finished file.
#[test]
fn every_position_of_a_half_typed_file_answers() {
    for text in [TYPING.to_string(), fixture("docker-bake.hcl")] {
        let mut lsp = open_bake(Some(&text), "hcl");
        for (line, content) in text.lines().enumerate() {
            for character in 0..=content.encode_utf16().count() as u32 {
                for method in [
                    "textDocument/completion",
                    "textDocument/hover",
                    "textDocument/definition",
                    "textDocument/documentHighlight",
                    "textDocument/prepareRename",
                ] {
                    at(&mut lsp, method, line as u32, character);
                }
            }
        }
        lsp.request(
            "textDocument/semanticTokens/full",
            json!({"textDocument": {"uri": uri("docker-bake.hcl")}}),
        );
        assert!(lsp.alive(), "the server exited");
    }
}

/// Positions follow the negotiated encoding: after `é` (2 bytes, 1 UTF-16
/// unit) a name starts one column later in UTF-8 than in UTF-16.
#[test]
fn positions_follow_the_negotiated_encoding() {
    let text = "target \"é\" {\n}\ngroup \"g\" {\n  targets = [\"é\", \"é\"]\n}\n";
    for (encoding, second) in [("utf-16", 19), ("utf-8", 20)] {
        let mut caps = lsp_support::full_capabilities();
        caps["general"]["positionEncodings"] = json!([encoding]);
        let (mut lsp, init) = Lsp::start(caps, json!({}));
        assert_eq!(init["capabilities"]["positionEncoding"], encoding);
        lsp.notify(
            "textDocument/didOpen",
            json!({"textDocument": {"uri": uri("docker-bake.hcl"), "languageId": "hcl", "version": 1, "text": text}}),
        );
        let hl = at(&mut lsp, "textDocument/documentHighlight", 3, second);
        let starts: Vec<(u64, u64)> = hl
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (
                    h["range"]["start"]["line"].as_u64().unwrap(),
                    h["range"]["start"]["character"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(starts, [(0, 8), (3, 14), (3, second as u64)], "{encoding}");
    }
}
