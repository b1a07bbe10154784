//! Idle documents are kept compressed (issue 3's memory target): over stdio,
//! the server packs all but the most recently used documents, and a packed
//! document still answers requests and takes edits exactly like a plain one.

mod lsp_support;

use lsp_support::{pos, range, Lsp};
use serde_json::{json, Value};

/// A Dockerfile of about 20 kB whose last line has a finding on a known
/// range: `MAINTAINER` (MaintainerDeprecated) on line `lines - 1`.
fn big_dockerfile(tag: usize) -> (String, u32) {
    let mut text = String::from("FROM busybox AS base\n");
    let mut lines = 1;
    while text.len() < 20_000 {
        text.push_str(&format!("RUN echo doc{tag} line{lines}\n"));
        lines += 1;
    }
    text.push_str("MAINTAINER someone\n");
    (text, lines)
}

fn open_documents(lsp: &Lsp, count: usize) -> Vec<(String, String, u32)> {
    (0..count)
        .map(|i| {
            let uri = format!("file:///packed/{i:02}/Dockerfile");
            let (text, maintainer_line) = big_dockerfile(i);
            lsp.open(&uri, &text);
            lsp.diagnostics(&uri, 1);
            (uri, text, maintainer_line)
        })
        .collect()
}

fn packed_uris(lsp: &mut Lsp) -> Vec<String> {
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo", "arguments": []}),
    );
    let docs = info["openDocuments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    docs.iter()
        .filter(|d| d["packed"] == true)
        .map(|d| d["uri"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn only_the_most_recently_used_documents_stay_unpacked() {
    let mut lsp = Lsp::start_default();
    let docs = open_documents(&lsp, 12);
    // Eight stay hot: the four opened first are packed.
    let expected: Vec<String> = docs[..4].iter().map(|d| d.0.clone()).collect();
    assert_eq!(packed_uris(&mut lsp), expected);
    assert_eq!(lsp.shutdown(), Some(0));
}

#[test]
fn a_packed_document_answers_requests_and_takes_edits() {
    let mut lsp = Lsp::start_default();
    let docs = open_documents(&lsp, 12);
    let (uri, _, maintainer_line) = &docs[0];
    assert!(packed_uris(&mut lsp).contains(uri));

    // Hover on the packed document's MAINTAINER keyword.
    let h = lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": pos(*maintainer_line, 2)}),
    );
    assert_eq!(h["range"], range(*maintainer_line, 0, *maintainer_line, 10));

    // An incremental edit on it: replace `MAINTAINER someone` by a LABEL;
    // the MaintainerDeprecated finding goes away, nothing else changes.
    let before: Vec<Value> = lsp.diagnostics(uri, 1);
    assert!(before.iter().any(|d| d["code"] == "MaintainerDeprecated"
        && d["range"]["start"]["line"] == json!(*maintainer_line)));
    lsp.notify(
        "textDocument/didChange",
        json!({
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{
                "range": range(*maintainer_line, 0, *maintainer_line, 18),
                "text": "LABEL org.opencontainers.image.authors=someone"
            }]
        }),
    );
    let after = lsp.diagnostics(uri, 2);
    assert!(!after.iter().any(|d| d["code"] == "MaintainerDeprecated"));
    assert_eq!(after.len(), before.len() - 1, "{after:?}");

    // The edited document is hot again; the oldest unedited one is packed.
    let packed = packed_uris(&mut lsp);
    assert!(!packed.contains(uri), "{packed:?}");
    assert!(packed.contains(&docs[1].0), "{packed:?}");
    assert_eq!(lsp.shutdown(), Some(0));
}
