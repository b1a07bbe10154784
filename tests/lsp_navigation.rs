//! Stage and variable navigation over stdio: definition, references,
//! highlight, rename, symbols, folding.

mod lsp_support;

use lsp_support::{pos, range, Lsp};
use serde_json::{json, Value};

const URI: &str = "file:///work/nav/Dockerfile";
const TEXT: &str = "ARG BASE=alpine:3.20
FROM ${BASE} AS build
ARG BASE
RUN echo $BASE > /out

FROM build AS final
COPY --from=build /out /out
RUN --mount=type=cache,target=/c,from=build true
";

fn at(line: u32, character: u32) -> Value {
    json!({"textDocument": {"uri": URI}, "position": pos(line, character)})
}

fn open() -> Lsp {
    let lsp = Lsp::start_default();
    lsp.open(URI, TEXT);
    lsp.diagnostics(URI, 1);
    lsp
}

fn ranges(locations: &Value) -> Vec<Value> {
    locations
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["range"].clone())
        .collect()
}

#[test]
fn stage_definition_and_references() {
    let mut lsp = open();
    // On `build` in `COPY --from=build` (line 6, columns 12..17).
    let def = lsp.request("textDocument/definition", at(6, 14));
    assert_eq!(def, json!({"uri": URI, "range": range(1, 16, 1, 21)}));
    let mut params = at(7, 40);
    params["context"] = json!({"includeDeclaration": true});
    let refs = lsp.request("textDocument/references", params);
    assert_eq!(
        ranges(&refs),
        vec![
            range(1, 16, 1, 21),
            range(5, 5, 5, 10),
            range(6, 12, 6, 17),
            range(7, 38, 7, 43)
        ]
    );
    let hl = lsp.request("textDocument/documentHighlight", at(5, 6));
    assert_eq!(hl[0], json!({"range": range(1, 16, 1, 21), "kind": 3}));
    assert_eq!(hl[1], json!({"range": range(5, 5, 5, 10), "kind": 2}));
}

#[test]
fn variable_definition_references_and_rename() {
    let mut lsp = open();
    // `${BASE}` on line 1: name at 7..11, defined by the global ARG at 0:4..8.
    let def = lsp.request("textDocument/definition", at(1, 8));
    assert_eq!(def["range"], range(0, 4, 0, 8));
    // `$BASE` in RUN (line 3, 10..14) resolves to the declaration in scope:
    // the stage's `ARG BASE` (which takes the global default).
    let def = lsp.request("textDocument/definition", at(3, 11));
    assert_eq!(def["range"], range(2, 4, 2, 8));
    let prep = lsp.request("textDocument/prepareRename", at(2, 5));
    assert_eq!(prep, range(2, 4, 2, 8));
    let edit = lsp.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": URI}, "position": pos(0, 5), "newName": "IMAGE"}),
    );
    let edits = edit["changes"][URI].as_array().unwrap();
    let got: Vec<&Value> = edits.iter().map(|e| &e["range"]).collect();
    assert_eq!(
        got,
        vec![
            &range(0, 4, 0, 8),
            &range(1, 7, 1, 11),
            &range(2, 4, 2, 8),
            &range(3, 10, 3, 14)
        ]
    );
    assert!(edits.iter().all(|e| e["newText"] == "IMAGE"));
    let err = lsp.request_error(
        "textDocument/rename",
        json!({"textDocument": {"uri": URI}, "position": pos(0, 5), "newName": "9bad"}),
    );
    assert_eq!(err["code"], -32602);
}

#[test]
fn stage_rename_covers_every_use() {
    let mut lsp = open();
    let edit = lsp.request(
        "textDocument/rename",
        json!({"textDocument": {"uri": URI}, "position": pos(1, 17), "newName": "builder"}),
    );
    let edits = edit["changes"][URI].as_array().unwrap();
    assert_eq!(edits.len(), 4);
    assert_eq!(edits[3]["range"], range(7, 38, 7, 43));
}

#[test]
fn document_symbols_nest_instructions_under_stages() {
    let mut lsp = open();
    let syms = lsp.request(
        "textDocument/documentSymbol",
        json!({"textDocument": {"uri": URI}}),
    );
    let syms = syms.as_array().unwrap();
    assert_eq!(syms.len(), 3, "{syms:?}");
    assert_eq!(syms[0]["name"], "ARG");
    assert_eq!(syms[0]["range"], range(0, 0, 0, 20));
    assert_eq!(syms[1]["name"], "build");
    assert_eq!(syms[1]["kind"], 5);
    assert_eq!(syms[1]["range"]["start"], pos(1, 0));
    assert_eq!(syms[1]["range"]["end"]["line"], 3);
    assert_eq!(syms[1]["selectionRange"], range(1, 16, 1, 21));
    let children: Vec<&Value> = syms[1]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["name"])
        .collect();
    assert_eq!(children, vec!["FROM", "ARG", "RUN"]);
    assert_eq!(syms[2]["name"], "final");
    assert_eq!(syms[2]["children"][2]["range"]["start"], pos(7, 0));
}

#[test]
fn folding_covers_stages_multiline_instructions_heredocs_and_comments() {
    let mut lsp = Lsp::start_default();
    let text = "# one\n# two\nFROM a\nRUN x \\\n  && y\nRUN <<EOF\necho hi\nEOF\nFROM b\n";
    lsp.open(URI, text);
    lsp.diagnostics(URI, 1);
    let f = lsp.request(
        "textDocument/foldingRange",
        json!({"textDocument": {"uri": URI}}),
    );
    let got: Vec<(u64, u64, String)> = f
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["startLine"].as_u64().unwrap(),
                r["endLine"].as_u64().unwrap(),
                r["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 1, "comment".to_string()),
            (2, 7, "region".to_string()),
            (3, 4, "region".to_string()),
            (5, 7, "region".to_string()),
        ]
    );
}
