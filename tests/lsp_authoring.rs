//! Signature help, document links, range and on-type formatting, and
//! completion resolve over stdio.

mod lsp_support;

use lsp_support::{pos, range, Lsp};
use serde_json::{json, Value};

const URI: &str = "file:///authoring/Dockerfile";

fn open(text: &str) -> Lsp {
    let lsp = Lsp::start_default();
    lsp.open(URI, text);
    lsp.diagnostics(URI, 1);
    lsp
}

fn signature(lsp: &mut Lsp, line: u32, character: u32) -> Value {
    lsp.request(
        "textDocument/signatureHelp",
        json!({"textDocument": {"uri": URI}, "position": pos(line, character)}),
    )
}

/// The label text of the active parameter of the active signature.
fn active_param(help: &Value) -> String {
    let sig = &help["signatures"][help["activeSignature"].as_u64().unwrap() as usize];
    let label = sig["label"].as_str().unwrap();
    let Some(i) = help["activeParameter"].as_u64() else {
        return String::new();
    };
    let [a, b] =
        [0, 1].map(|k| sig["parameters"][i as usize]["label"][k].as_u64().unwrap() as usize);
    // Labels are ASCII, so UTF-16 offsets are byte offsets.
    label[a..b].to_string()
}

#[test]
fn signature_help_tracks_the_cursor_through_flags_and_arguments() {
    let text = "FROM --platform=linux/amd64 golang:1.22 AS build\nCOPY --from=build --chmod=644 a b /dest/\nCMD [\"run\", \"--fast\"]\nENV KEY=value\nHEALTHCHECK NONE\nONBUILD COPY --chown=app a /b\n";
    let mut lsp = open(text);
    let h = signature(&mut lsp, 0, 10);
    assert_eq!(
        h["signatures"][0]["label"],
        "FROM [--platform=<os>/<arch>[/<variant>]] <image> AS <name>"
    );
    assert_eq!(active_param(&h), "[--platform=<os>/<arch>[/<variant>]]");
    assert!(
        h["signatures"][0]["parameters"][0]["documentation"]["value"]
            .as_str()
            .unwrap()
            .contains("Platform of the base image")
    );
    assert_eq!(active_param(&signature(&mut lsp, 0, 30)), "<image>");
    assert_eq!(active_param(&signature(&mut lsp, 0, 41)), "AS");
    assert_eq!(active_param(&signature(&mut lsp, 0, 46)), "<name>");

    assert_eq!(
        active_param(&signature(&mut lsp, 1, 8)),
        "[--from=<stage|image|context>]"
    );
    assert_eq!(
        active_param(&signature(&mut lsp, 1, 22)),
        "[--chmod=<perms>]"
    );
    assert_eq!(active_param(&signature(&mut lsp, 1, 30)), "<src>...");
    assert_eq!(active_param(&signature(&mut lsp, 1, 32)), "<src>...");
    assert_eq!(active_param(&signature(&mut lsp, 1, 36)), "<dest>");

    // Exec form: the JSON signature is active, strings count as parameters.
    let h = signature(&mut lsp, 2, 7);
    assert_eq!(h["signatures"].as_array().unwrap().len(), 2);
    assert_eq!(h["activeSignature"], 0);
    assert_eq!(active_param(&h), "\"<executable>\"");
    assert_eq!(active_param(&signature(&mut lsp, 2, 15)), "\"<param>\"...");

    assert_eq!(active_param(&signature(&mut lsp, 3, 5)), "<key>");
    assert_eq!(active_param(&signature(&mut lsp, 3, 10)), "<value>");

    let h = signature(&mut lsp, 4, 13);
    assert_eq!(
        h["signatures"][h["activeSignature"].as_u64().unwrap() as usize]["label"],
        "HEALTHCHECK NONE"
    );

    // Inside ONBUILD the wrapped instruction answers.
    let h = signature(&mut lsp, 5, 16);
    assert!(h["signatures"][0]["label"]
        .as_str()
        .unwrap()
        .starts_with("COPY "));
    assert_eq!(active_param(&h), "[--chown=<user>[:<group>]]");
    assert_eq!(active_param(&signature(&mut lsp, 5, 29)), "<dest>");

    // On the keyword itself nothing is shown yet.
    assert_eq!(signature(&mut lsp, 0, 2), Value::Null);
}

#[test]
fn signature_help_starts_after_the_space_that_follows_a_keyword() {
    let mut lsp = open("FROM \nCOPY a \n");
    assert_eq!(active_param(&signature(&mut lsp, 0, 5)), "<image>");
    assert_eq!(active_param(&signature(&mut lsp, 1, 7)), "<dest>");
}

#[test]
fn signature_help_follows_an_array_being_typed() {
    let mut lsp = open("FROM a\nENTRYPOINT [\"sh\", \n");
    let h = signature(&mut lsp, 1, 18);
    assert_eq!(h["activeSignature"], 0);
    assert_eq!(active_param(&h), "\"<param>\"...");
}

#[test]
fn every_instruction_has_signature_help() {
    let keywords = [
        "ADD a b",
        "ARG A",
        "CMD x",
        "COPY a b",
        "ENTRYPOINT x",
        "ENV A=b",
        "EXPOSE 80",
        "HEALTHCHECK CMD x",
        "LABEL a=b",
        "MAINTAINER m",
        "ONBUILD ",
        "RUN x",
        "SHELL [\"sh\"]",
        "STOPSIGNAL 9",
        "USER u",
        "VOLUME /v",
        "WORKDIR /w",
    ];
    let text: String = std::iter::once("FROM a".to_string())
        .chain(keywords.iter().map(|k| k.to_string()))
        .map(|l| l + "\n")
        .collect();
    let mut lsp = open(&text);
    for (i, k) in keywords.iter().enumerate() {
        let kw = k.split(' ').next().unwrap();
        let h = signature(&mut lsp, i as u32 + 1, kw.len() as u32 + 1);
        let label = h["signatures"][0]["label"]
            .as_str()
            .unwrap_or_else(|| panic!("{k}: {h}"));
        assert!(label.starts_with(kw), "{k}: {label}");
        assert!(h["signatures"][0]["documentation"]["value"]
            .as_str()
            .unwrap()
            .contains("docs.docker.com"));
    }
}

fn links(lsp: &mut Lsp) -> Vec<Value> {
    lsp.request(
        "textDocument/documentLink",
        json!({"textDocument": {"uri": URI}}),
    )
    .as_array()
    .unwrap()
    .clone()
}

#[test]
fn from_images_link_to_their_registry_page_once_resolved() {
    let text = "ARG BASE=alpine\nFROM ${BASE} AS a\nFROM golang:1.22 AS build\nFROM build\nFROM scratch\nFROM ghcr.io/owner/tool@sha256:0000000000000000000000000000000000000000000000000000000000000000\nFROM localhost:5000/app:1\nFROM grafana/grafana:latest\nFROM docker.io/library/nginx\n";
    let mut lsp = open(text);
    let got = links(&mut lsp);
    let ranges: Vec<&Value> = got.iter().map(|l| &l["range"]).collect();
    assert_eq!(
        ranges,
        vec![
            &range(2, 5, 2, 11),
            &range(5, 5, 5, 23),
            &range(7, 5, 7, 20),
            &range(8, 5, 8, 28),
        ]
    );
    // Resolved lazily: the list has no targets.
    assert!(got.iter().all(|l| l.get("target").is_none()), "{got:?}");
    let targets: Vec<Value> = got
        .into_iter()
        .map(|l| lsp.request("documentLink/resolve", l)["target"].clone())
        .collect();
    assert_eq!(
        targets,
        vec![
            json!("https://hub.docker.com/_/golang"),
            json!("https://github.com/owner/tool/pkgs/container/tool"),
            json!("https://hub.docker.com/r/grafana/grafana"),
            json!("https://hub.docker.com/_/nginx"),
        ]
    );
}

fn edits_applied(text: &str, edits: &Value) -> String {
    // Apply LSP edits (ASCII text) from the last to the first.
    let offset = |p: &Value| {
        let line = p["line"].as_u64().unwrap() as usize;
        let ch = p["character"].as_u64().unwrap() as usize;
        text.split_inclusive('\n')
            .take(line)
            .map(str::len)
            .sum::<usize>()
            + ch
    };
    let mut list: Vec<(usize, usize, String)> = edits
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    list.sort_by_key(|e| std::cmp::Reverse(e.0));
    let mut out = text.to_string();
    for (a, b, t) in list {
        out.replace_range(a..b, &t);
    }
    out
}

#[test]
fn range_formatting_changes_only_the_lines_of_the_range() {
    let text = "from a\n  run x \\\n&& y\nrun z\n";
    let mut lsp = open(text);
    let edits = lsp.request(
        "textDocument/rangeFormatting",
        json!({"textDocument": {"uri": URI}, "range": range(1, 3, 2, 1),
               "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    assert_eq!(
        edits_applied(text, &edits),
        "from a\nRUN x \\\n    && y\nrun z\n"
    );
}

#[test]
fn on_type_formatting_indents_continuation_lines() {
    let text = "FROM a\nRUN x \\\n\n";
    let mut lsp = open(text);
    let on_type = |lsp: &mut Lsp, line, character, ch: &str| {
        lsp.request(
            "textDocument/onTypeFormatting",
            json!({"textDocument": {"uri": URI}, "position": pos(line, character), "ch": ch,
                   "options": {"tabSize": 4, "insertSpaces": true}}),
        )
    };
    // Enter after a continuation: the new line is indented.
    let edits = on_type(&mut lsp, 2, 0, "\n");
    assert_eq!(edits_applied(text, &edits), "FROM a\nRUN x \\\n    \n");

    // The escape typed at the end of a line re-indents the next line; with
    // `# escape=`` ` ``, the backtick does and the backslash does not.
    let text2 = "# escape=`\nFROM a\nRUN x `\n && y\n";
    lsp.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": URI, "version": 2}, "contentChanges": [{"text": text2}]}),
    );
    lsp.diagnostics(URI, 2);
    let edits = on_type(&mut lsp, 2, 7, "`");
    assert_eq!(
        edits_applied(text2, &edits),
        "# escape=`\nFROM a\nRUN x `\n    && y\n"
    );
    assert_eq!(on_type(&mut lsp, 2, 7, "\\"), json!([]));
}

#[test]
fn completion_items_carry_no_documentation_until_resolved() {
    let mut lsp = open("FROM a\nCOPY --\n");
    let items = lsp.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": URI}, "position": pos(1, 7)}),
    );
    let items = items.as_array().unwrap();
    let from = items
        .iter()
        .find(|i| i["label"] == "--from")
        .expect("--from offered");
    assert_eq!(from["kind"], 10);
    assert!(items.iter().all(|i| i.get("documentation").is_none()));
    let resolved = lsp.request("completionItem/resolve", from.clone());
    let doc = resolved["documentation"]["value"].as_str().unwrap();
    assert!(
        doc.starts_with("`COPY --from=<stage|image|context>`"),
        "{doc}"
    );
    assert_eq!(resolved["label"], "--from");

    let items = lsp.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": URI}, "position": pos(1, 0)}),
    );
    let run = items
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "RUN")
        .unwrap()
        .clone();
    let resolved = lsp.request("completionItem/resolve", run);
    assert!(resolved["documentation"]["value"]
        .as_str()
        .unwrap()
        .starts_with("**RUN** — "));
}

#[test]
fn the_new_requests_are_advertised() {
    let (_lsp, init) = Lsp::start(lsp_support::full_capabilities(), json!({}));
    let caps = &init["capabilities"];
    assert_eq!(caps["completionProvider"]["resolveProvider"], true);
    assert_eq!(caps["documentLinkProvider"]["resolveProvider"], true);
    assert_eq!(caps["documentRangeFormattingProvider"], true);
    assert_eq!(
        caps["documentOnTypeFormattingProvider"]["firstTriggerCharacter"],
        "\n"
    );
    assert_eq!(
        caps["documentOnTypeFormattingProvider"]["moreTriggerCharacter"],
        json!(["\\", "`"])
    );
    assert!(caps["signatureHelpProvider"]["triggerCharacters"]
        .as_array()
        .unwrap()
        .contains(&json!(" ")));
}

#[test]
fn images_written_with_variables_show_their_value_as_hint_and_hover() {
    let text = "ARG GO=1.22\nARG BASE=alpine\nFROM golang:${GO} AS build\nFROM ${UNDECLARED}\nFROM build\nFROM busybox\n";
    let mut lsp = open(text);
    let hints = lsp.request(
        "textDocument/inlayHint",
        json!({"textDocument": {"uri": URI}, "range": range(0, 0, 6, 0)}),
    );
    let hints = hints.as_array().unwrap();
    assert_eq!(hints.len(), 1, "{hints:?}");
    assert_eq!(hints[0]["position"], pos(2, 17));
    assert_eq!(hints[0]["label"], "= golang:1.22");

    let hover = |lsp: &mut Lsp, line, character| {
        lsp.request(
            "textDocument/hover",
            json!({"textDocument": {"uri": URI}, "position": pos(line, character)}),
        )["contents"]["value"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let h = hover(&mut lsp, 2, 7);
    assert!(h.starts_with("**Image** `golang:${GO}`"), "{h}");
    assert!(h.contains("= `golang:1.22`"), "{h}");
    assert!(h.contains("(https://hub.docker.com/_/golang)"), "{h}");
    // On the variable itself, the variable answers.
    assert!(hover(&mut lsp, 2, 15).starts_with("**ARG GO**"));
    assert!(hover(&mut lsp, 3, 8).contains("not defined by any ARG"));
    assert!(hover(&mut lsp, 5, 7).contains("(https://hub.docker.com/_/busybox)"));
}
