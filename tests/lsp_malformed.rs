//! Malformed and hostile input: the server answers with JSON-RPC errors or
//! empty results, and keeps running.

mod lsp_support;

use lsp_support::{frame, pos, Lsp};
use serde_json::json;

const URI: &str = "file:///work/Dockerfile";

fn assert_still_serving(lsp: &mut Lsp) {
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(info["name"], "buildkit-lsp");
    assert!(lsp.alive());
}

#[test]
fn invalid_json_gets_a_parse_error_and_the_server_continues() {
    let mut lsp = Lsp::start_default();
    lsp.write_raw(&frame(b"{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": "));
    let r = lsp.response(serde_json::Value::Null);
    assert_eq!(r["error"]["code"], -32700, "{r}");
    assert_still_serving(&mut lsp);
}

#[test]
fn json_that_is_not_json_rpc_gets_invalid_request() {
    let mut lsp = Lsp::start_default();
    lsp.write_raw(&frame(b"{\"hello\": [1, 2, 3]}"));
    let r = lsp.response(serde_json::Value::Null);
    assert_eq!(r["error"]["code"], -32600, "{r}");
    assert_still_serving(&mut lsp);
}

#[test]
fn unknown_methods_get_method_not_found_and_unknown_notifications_are_ignored() {
    let mut lsp = Lsp::start_default();
    let e = lsp.request_error("textDocument/teleport", json!({}));
    assert_eq!(e["code"], -32601);
    lsp.notify("$/somethingOptional", json!({"x": 1}));
    lsp.notify("custom/unknown", json!(null));
    assert_still_serving(&mut lsp);
}

#[test]
fn requests_before_initialize_are_refused() {
    let mut lsp = Lsp::spawn(&[]);
    let e = lsp.request_error(
        "textDocument/codeLens",
        json!({"textDocument": {"uri": URI}}),
    );
    assert_eq!(e["code"], -32002);
    let init = lsp.request("initialize", json!({"capabilities": {}}));
    assert_eq!(init["serverInfo"]["name"], "buildkit-lsp");
}

#[test]
fn invalid_params_are_reported_not_fatal() {
    let mut lsp = Lsp::start_default();
    let e = lsp.request_error("textDocument/codeLens", json!({"textDocument": 42}));
    assert_eq!(e["code"], -32602);
    // A didChange with garbage params is a notification: nothing to answer.
    lsp.notify("textDocument/didChange", json!({"textDocument": "nope"}));
    assert_still_serving(&mut lsp);
}

#[test]
fn unopened_documents_get_empty_results() {
    let mut lsp = Lsp::start(
        lsp_support::full_capabilities(),
        json!({"diagnosticMode": "both"}),
    )
    .0;
    let other = "file:///nowhere/Dockerfile";
    assert_eq!(
        lsp.request(
            "textDocument/codeLens",
            json!({"textDocument": {"uri": other}})
        ),
        json!([])
    );
    let r = lsp.request(
        "textDocument/diagnostic",
        json!({"textDocument": {"uri": other}}),
    );
    assert_eq!(r, json!({"kind": "full", "items": []}));
    let at = json!({"textDocument": {"uri": other}, "position": pos(0, 1)});
    assert_eq!(lsp.request("textDocument/hover", at.clone()), json!(null));
    assert_eq!(
        lsp.request("textDocument/completion", at.clone()),
        json!([])
    );
    assert_eq!(
        lsp.request("textDocument/definition", at.clone()),
        json!(null)
    );
    let doc = json!({"textDocument": {"uri": other}});
    assert_eq!(
        lsp.request("textDocument/documentSymbol", doc.clone()),
        json!(null)
    );
    assert_eq!(
        lsp.request("textDocument/foldingRange", doc.clone()),
        json!([])
    );
    assert_eq!(
        lsp.request("textDocument/semanticTokens/full", doc.clone()),
        json!({"data": []})
    );
    let mut fmt = doc.clone();
    fmt["options"] = json!({"tabSize": 4, "insertSpaces": true});
    assert_eq!(lsp.request("textDocument/formatting", fmt), json!([]));
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": other, "version": 2}, "contentChanges": [{"text": "FROM a"}]}),
    );
    lsp.notify(
        "textDocument/didClose",
        json!({"textDocument": {"uri": other}}),
    );
    assert_still_serving(&mut lsp);
}

#[test]
fn a_20_mb_document_is_accepted_and_not_analysed() {
    let mut lsp = Lsp::start_default();
    let line = "RUN echo aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    let text = line.repeat(20 * 1024 * 1024 / line.len());
    assert!(text.len() > 20_000_000);
    lsp.open(URI, &text);
    assert_eq!(lsp.diagnostics(URI, 1), Vec::<serde_json::Value>::new());
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(info["openDocuments"][0]["bytes"], text.len());
    // Not analysed: language features answer empty.
    let at = json!({"textDocument": {"uri": URI}, "position": pos(0, 1)});
    assert_eq!(lsp.request("textDocument/hover", at), json!(null));
    // An incremental edit at its end still applies.
    let lines = text.lines().count() as u32;
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2},
               "contentChanges": [{"range": {"start": pos(lines, 0), "end": pos(lines, 0)}, "text": "FROM x\n"}]}),
    );
    lsp.diagnostics(URI, 2);
    let info = lsp.request(
        "workspace/executeCommand",
        json!({"command": "buildkit.serverInfo"}),
    );
    assert_eq!(info["openDocuments"][0]["bytes"], text.len() + 7);
}

#[test]
fn binary_content_is_accepted_and_not_analysed() {
    let mut lsp = Lsp::start_default();
    let text: String = (0u32..4096)
        .map(|i| char::from_u32(i % 0x250).unwrap_or('\u{0}'))
        .collect();
    lsp.open(URI, &text);
    assert_eq!(lsp.diagnostics(URI, 1), Vec::<serde_json::Value>::new());
    assert_still_serving(&mut lsp);
}

#[test]
fn a_truncated_header_followed_by_eof_ends_the_server_cleanly() {
    let lsp = Lsp::start_default();
    lsp.write_raw(b"Content-Length: 99999\r\n\r\n{\"jsonrpc\"");
    drop(lsp); // closing stdin and killing must not hang the test
}
