//! Hover and completion over stdio, with ranges asserted.

mod lsp_support;

use lsp_support::{pos, range, Lsp};
use serde_json::{json, Value};

const TEXT: &str = "# check=skip=StageNameCasing
ARG VERSION=1.22
FROM golang:${VERSION} AS build
RUN --mount=type=cache,target=/root/.cache go build
FROM scratch
COPY --from=build /out /out
";

fn hover(lsp: &mut Lsp, uri: &str, line: u32, character: u32) -> Value {
    lsp.request(
        "textDocument/hover",
        json!({"textDocument": {"uri": uri}, "position": pos(line, character)}),
    )
}

fn open(lsp: &Lsp, uri: &str, text: &str) {
    lsp.open(uri, text);
    lsp.diagnostics(uri, 1);
}

#[test]
fn hover_documents_instructions_flags_mounts_and_directives() {
    let mut lsp = Lsp::start_default();
    let uri = "file:///h/Dockerfile";
    open(&lsp, uri, TEXT);
    let h = hover(&mut lsp, uri, 2, 1);
    assert_eq!(h["range"], range(2, 0, 2, 4));
    assert_eq!(h["contents"]["kind"], "markdown");
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.starts_with("**FROM** — Starts a build stage"), "{v}");
    assert!(
        v.ends_with("(https://docs.docker.com/reference/dockerfile/#from)"),
        "{v}"
    );

    let h = hover(&mut lsp, uri, 3, 8);
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(
        v.starts_with("`RUN --mount=type=<cache|bind|secret|ssh|tmpfs>"),
        "{v}"
    );
    assert_eq!(h["range"]["start"]["line"], 3);

    let h = hover(&mut lsp, uri, 3, 15);
    assert_eq!(h["range"], range(3, 12, 3, 22));
    assert!(h["contents"]["value"]
        .as_str()
        .unwrap()
        .starts_with("**--mount=type=cache** — A persistent cache"));

    let h = hover(&mut lsp, uri, 3, 25);
    assert_eq!(h["range"], range(3, 23, 3, 29));
    assert_eq!(
        h["contents"]["value"],
        "`target` (cache mount) — where it is mounted (required)"
    );

    let h = hover(&mut lsp, uri, 0, 4);
    assert_eq!(h["range"], range(0, 2, 0, 7));
    assert!(h["contents"]["value"]
        .as_str()
        .unwrap()
        .starts_with("**# check** — Configures build checks"));
}

#[test]
fn hover_shows_variable_values_and_stage_summaries() {
    let mut lsp = Lsp::start_default();
    let uri = "file:///h2/Dockerfile";
    open(&lsp, uri, TEXT);
    let h = hover(&mut lsp, uri, 2, 16);
    assert_eq!(h["range"], range(2, 14, 2, 21));
    assert_eq!(
        h["contents"]["value"],
        "**ARG VERSION** = `1.22`\n\nDefined on line 2 (global build argument)."
    );
    let h = hover(&mut lsp, uri, 5, 14);
    assert_eq!(h["range"], range(5, 12, 5, 17));
    assert_eq!(
        h["contents"]["value"],
        "**Stage `build`** (#0, line 3)\n\n`FROM golang:${VERSION}` — 2 instructions: RUN"
    );
    // Nothing to say about a path.
    assert_eq!(hover(&mut lsp, uri, 5, 20), Value::Null);
}

#[test]
fn hover_is_plain_text_for_clients_without_markdown() {
    let (mut lsp, _) = Lsp::start(json!({}), json!({}));
    let uri = "file:///h3/Dockerfile";
    open(&lsp, uri, TEXT);
    let h = hover(&mut lsp, uri, 4, 0);
    assert_eq!(h["contents"]["kind"], "plaintext");
    let v = h["contents"]["value"].as_str().unwrap();
    assert!(v.starts_with("FROM — Starts a build stage"), "{v}");
    assert!(
        v.ends_with("Dockerfile reference: https://docs.docker.com/reference/dockerfile/#from"),
        "{v}"
    );
}

fn complete(lsp: &mut Lsp, uri: &str, text: &str, line: u32, character: u32) -> Vec<Value> {
    lsp.open(uri, text);
    lsp.diagnostics(uri, 1);
    let r = lsp.request(
        "textDocument/completion",
        json!({"textDocument": {"uri": uri}, "position": pos(line, character)}),
    );
    r.as_array().cloned().unwrap_or_default()
}

fn labels(items: &[Value]) -> Vec<&str> {
    items.iter().map(|i| i["label"].as_str().unwrap()).collect()
}

#[test]
fn completes_instructions_with_snippets_replacing_the_typed_word() {
    let mut lsp = Lsp::start_default();
    let items = complete(&mut lsp, "file:///c1/Dockerfile", "FROM a\n  RU", 1, 4);
    assert_eq!(items.len(), 18);
    let run = items.iter().find(|i| i["label"] == "RUN").unwrap();
    assert_eq!(run["insertTextFormat"], 2);
    assert_eq!(
        run["textEdit"],
        json!({"range": range(1, 2, 1, 4), "newText": "RUN ${1:command}"})
    );
}

#[test]
fn completes_flags_mount_types_and_mount_keys() {
    let mut lsp = Lsp::start_default();
    let items = complete(&mut lsp, "file:///c2/Dockerfile", "FROM a\nRUN --", 1, 6);
    assert_eq!(
        labels(&items),
        vec!["--mount", "--network", "--security", "--device"]
    );
    assert_eq!(
        items[0]["textEdit"],
        json!({"range": range(1, 4, 1, 6), "newText": "--mount="})
    );
    let items = complete(
        &mut lsp,
        "file:///c3/Dockerfile",
        "FROM a\nRUN --mount=type=",
        1,
        17,
    );
    assert_eq!(
        labels(&items),
        vec!["cache", "bind", "secret", "ssh", "tmpfs"]
    );
    assert_eq!(items[0]["textEdit"]["range"], range(1, 17, 1, 17));
    let items = complete(
        &mut lsp,
        "file:///c4/Dockerfile",
        "FROM a\nRUN --mount=type=secret,",
        1,
        24,
    );
    assert_eq!(
        labels(&items),
        vec!["id", "target", "env", "required", "mode", "uid", "gid"]
    );
}

#[test]
fn completes_stage_names_after_from_and_in_from() {
    let mut lsp = Lsp::start_default();
    let text = "FROM golang AS build\nFROM alpine AS test\nCOPY --from=";
    let items = complete(&mut lsp, "file:///c5/Dockerfile", text, 2, 12);
    // Not `test` itself: BuildKit refuses a stage copying from itself.
    assert_eq!(labels(&items), vec!["build"]);
    assert_eq!(
        items[0]["textEdit"],
        json!({"range": range(2, 12, 2, 12), "newText": "build"})
    );
    let text = "FROM golang AS build\nFROM ";
    let items = complete(&mut lsp, "file:///c6/Dockerfile", text, 1, 5);
    assert_eq!(labels(&items), vec!["build", "scratch"]);
}

#[test]
fn from_completion_offers_later_stages_but_no_cycles() {
    // BuildKit (dockerfile2llb) resolves `COPY --from=` against every stage,
    // later ones included, and fails with "circular dependency detected on
    // stage" when the dependency graph has a cycle. In stage `a`: `a` itself,
    // `c` (FROM a) and `d` (COPY --from=a) would each close a cycle.
    let mut lsp = Lsp::start_default();
    let text = "FROM alpine AS a\nCOPY --from=\nFROM alpine AS b\nFROM a AS c\n\
                FROM alpine AS d\nCOPY --from=a /x /x\nFROM alpine AS e\n";
    let items = complete(&mut lsp, "file:///c5b/Dockerfile", text, 1, 12);
    assert_eq!(labels(&items), vec!["b", "e"]);
    // In stage `b` nothing depends on `b`: every other stage is offered.
    let text = "FROM alpine AS a\nFROM alpine AS b\nRUN --mount=from=\nFROM a AS c\n";
    let items = complete(&mut lsp, "file:///c5c/Dockerfile", text, 2, 17);
    assert_eq!(labels(&items), vec!["a", "c"]);
    // FROM still names only earlier stages.
    let text = "FROM alpine AS a\nFROM \nFROM alpine AS z\n";
    let items = complete(&mut lsp, "file:///c5d/Dockerfile", text, 1, 5);
    assert_eq!(labels(&items), vec!["a", "scratch"]);
}

#[test]
fn completes_variables_after_dollar_and_brace() {
    let mut lsp = Lsp::start_default();
    let text = "ARG VERSION=1\nFROM a\nENV APP_HOME=/app\nRUN echo ${AP";
    let items = complete(&mut lsp, "file:///c7/Dockerfile", text, 3, 13);
    let app = items.iter().find(|i| i["label"] == "APP_HOME").unwrap();
    assert_eq!(
        app["textEdit"],
        json!({"range": range(3, 11, 3, 13), "newText": "APP_HOME}"})
    );
    assert_eq!(app["detail"], "ENV APP_HOME=/app");
    assert!(labels(&items).contains(&"VERSION"));
    assert!(labels(&items).contains(&"TARGETARCH"));
}

#[test]
fn completes_directives_at_the_top_only() {
    let mut lsp = Lsp::start_default();
    let items = complete(&mut lsp, "file:///c8/Dockerfile", "# \nFROM a\n", 0, 2);
    assert_eq!(labels(&items), vec!["syntax", "escape", "check"]);
    let items = complete(&mut lsp, "file:///c9/Dockerfile", "FROM a\n# \n", 1, 2);
    assert!(items.is_empty());
}

#[test]
fn hover_on_a_redeclared_global_arg_shows_the_global_default() {
    let mut lsp = Lsp::start_default();
    let uri = "file:///h4/Dockerfile";
    open(
        &lsp,
        uri,
        "ARG VERSION=1.22\nFROM alpine\nARG VERSION\nRUN echo $VERSION\n",
    );
    let h = hover(&mut lsp, uri, 3, 11);
    assert_eq!(h["range"], range(3, 10, 3, 17));
    assert_eq!(
        h["contents"]["value"],
        "**ARG VERSION** = `1.22`\n\nDefined on line 3 (in stage #0). Default from the global ARG on line 1."
    );
    // A predefined platform argument needs no declaration.
    open(
        &lsp,
        "file:///h5/Dockerfile",
        "FROM --platform=$BUILDPLATFORM alpine\n",
    );
    let h = hover(&mut lsp, "file:///h5/Dockerfile", 0, 20);
    assert_eq!(h["range"], range(0, 17, 0, 30));
    assert!(h["contents"]["value"]
        .as_str()
        .unwrap()
        .starts_with("**$BUILDPLATFORM** — set by BuildKit"));
}
