//! Formatting and semantic tokens over stdio.

mod lsp_support;

use lsp_support::{range, Lsp};
use serde_json::{json, Value};

const URI: &str = "file:///f/Dockerfile";

/// Applies LSP edits to ASCII text (characters are bytes there).
fn apply(text: &str, edits: &[Value]) -> String {
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let off = |p: &Value| {
        starts[p["line"].as_u64().unwrap() as usize] + p["character"].as_u64().unwrap() as usize
    };
    let mut es: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                off(&e["range"]["start"]),
                off(&e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    es.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (a, b, t) in es {
        out.replace_range(a..b, &t);
    }
    out
}

const MESSY: &str = "  from alpine as build
run apt-get update && \\
        apt-get install -y curl \\
  && echo \"a \\
   b\"
COPY <<EOF /x
  keep   this
EOF
cmd [\"a\", \\
  \"b\"]
";

#[test]
fn formatting_fixes_casing_and_continuations_but_not_quotes_heredocs_or_json() {
    let mut lsp = Lsp::start_default();
    lsp.open(URI, MESSY);
    lsp.diagnostics(URI, 1);
    let edits = lsp.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    let edits = edits.as_array().unwrap();
    let got: Vec<(Value, &str)> = edits
        .iter()
        .map(|e| (e["range"].clone(), e["newText"].as_str().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            (range(0, 0, 0, 2), ""),
            (range(0, 2, 0, 6), "FROM"),
            (range(0, 14, 0, 16), "AS"),
            (range(1, 0, 1, 3), "RUN"),
            (range(2, 0, 2, 8), "    "),
            (range(3, 0, 3, 2), "    "),
            (range(8, 0, 8, 3), "CMD"),
        ]
    );
    let formatted = apply(MESSY, edits);
    assert_eq!(
        formatted,
        "FROM alpine AS build\nRUN apt-get update && \\\n    apt-get install -y curl \\\n    && echo \"a \\\n   b\"\nCOPY <<EOF /x\n  keep   this\nEOF\nCMD [\"a\", \\\n  \"b\"]\n"
    );
    // Idempotent: formatting the result changes nothing.
    lsp.notify("textDocument/didChange", json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": formatted}]}));
    lsp.diagnostics(URI, 2);
    let again = lsp.request(
        "textDocument/formatting",
        json!({"textDocument": {"uri": URI}, "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(again, json!([]));
}

#[test]
fn semantic_tokens_cover_keywords_flags_stages_and_variables() {
    let (mut lsp, init) = Lsp::start(
        lsp_support::full_capabilities(),
        json!({"buildkit": {"diagnostics": {"debounceMs": 0}}}),
    );
    let legend = &init["capabilities"]["semanticTokensProvider"]["legend"]["tokenTypes"];
    assert_eq!(
        legend,
        &json!(["keyword", "comment", "macro", "string", "property", "class", "variable"])
    );
    let text = "# c\nARG V=1\nFROM a:${V} AS b\nFROM c\nCOPY --from=b /x /y\n";
    lsp.open(URI, text);
    lsp.diagnostics(URI, 1);
    let r = lsp.request(
        "textDocument/semanticTokens/full",
        json!({"textDocument": {"uri": URI}}),
    );
    let data: Vec<u64> = r["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    #[rustfmt::skip]
    let expected = vec![
        0, 0, 3, 1, 0,   // `# c` comment
        1, 0, 3, 0, 0,   // ARG
        0, 4, 1, 6, 1,   // V (declaration)
        1, 0, 4, 0, 0,   // FROM
        0, 7, 4, 6, 0,   // ${V}
        0, 5, 2, 0, 0,   // AS
        0, 3, 1, 5, 1,   // b (stage declaration)
        1, 0, 4, 0, 0,   // FROM c
        1, 0, 4, 0, 0,   // COPY
        0, 5, 6, 4, 0,   // --from
        0, 7, 1, 5, 0,   // b (stage use)
    ];
    assert_eq!(data, expected);
}
