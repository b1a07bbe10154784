//! Completion and hover round trips in a 2,000-line bake file over stdio
//! (run with `cargo bench --bench bake`): the server started as editors
//! start it, the bake file open, its Dockerfile on disk. Medians of 50
//! requests per case, from the request's first byte written to the
//! response's last byte read, so the figure bounds the server's own time.
//! Prints one table; not a pass/fail test.

#[path = "../tests/lsp_support/mod.rs"]
mod lsp_support;

use std::time::Instant;

use lsp_support::{pos, Lsp};
use serde_json::json;

/// A bake file of about `lines` lines: variables, then targets that
/// inherit, interpolate and pass args, then a group of them all.
fn bake(lines: usize) -> String {
    let mut out = String::new();
    for i in 0..20 {
        out.push_str(&format!(
            "variable \"V{i}\" {{\n  default = \"{i}\"\n}}\n\n"
        ));
    }
    out.push_str("target \"base\" {\n  dockerfile = \"Dockerfile\"\n  args = {\n    VERSION = \"1\"\n  }\n}\n\n");
    let mut i = 0;
    while out.lines().count() < lines - 4 {
        out.push_str(&format!(
            "target \"t{i}\" {{\n  inherits  = [\"base\"]\n  target    = \"build\"\n  tags      = [\"example/t{i}:${{V{}}}\"]\n  platforms = [\"linux/amd64\"]\n  args = {{\n    VERSION = \"{i}\"\n    COMMIT  = \"c{i}\"\n  }}\n  labels = {{\n    \"org.example.n\" = \"{i}\"\n  }}\n  cache-to = [\"type=inline\"]\n}}\n\n",
            i % 20
        ));
        i += 1;
    }
    let names: Vec<String> = (0..i).map(|n| format!("\"t{n}\"")).collect();
    out.push_str(&format!(
        "group \"default\" {{\n  targets = [{}]\n}}\n",
        names.join(", ")
    ));
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let text = bake(2000);
    let lines = text.lines().count();
    std::fs::write(dir.path().join("docker-bake.hcl"), &text).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "ARG VERSION=0\nFROM busybox:test AS build\nARG COMMIT\nARG GOOS=linux\nARG GOARCH=amd64\nARG CGO_ENABLED=0\nARG LDFLAGS\nRUN echo $VERSION $COMMIT\n",
    )
    .unwrap();
    let uri = format!("file://{}/docker-bake.hcl", dir.path().display());
    let mut lsp = Lsp::start_default();
    lsp.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": uri, "languageId": "hcl", "version": 1, "text": text}}),
    );
    // The middle target: its lines, found in the text.
    let mid = text
        .lines()
        .position(|l| l.starts_with("target \"t60\""))
        .expect("a target in the middle") as u32;
    let cases = [
        (
            "completion: attribute names",
            "textDocument/completion",
            mid + 12,
            2,
        ),
        (
            "completion: stage names (reads the Dockerfile)",
            "textDocument/completion",
            mid + 2,
            17,
        ),
        (
            "completion: args keys (Dockerfile ARGs)",
            "textDocument/completion",
            mid + 6,
            4,
        ),
        (
            "completion: variables and functions",
            "textDocument/completion",
            mid + 3,
            31,
        ),
        (
            "hover: attribute documentation",
            "textDocument/hover",
            mid + 4,
            3,
        ),
        (
            "hover: variable value (evaluates the bake file)",
            "textDocument/hover",
            mid + 3,
            31,
        ),
        (
            "hover: resolved target (evaluates the bake file)",
            "textDocument/hover",
            mid,
            9,
        ),
    ];
    println!("bake file: {lines} lines, {} bytes", text.len());
    println!("{:<52} {:>12} {:>8}", "request", "median (ms)", "items");
    for (name, method, line, character) in cases {
        let params = json!({"textDocument": {"uri": uri}, "position": pos(line, character)});
        let first = lsp.request(method, params.clone());
        let items = first
            .as_array()
            .map_or(usize::from(!first.is_null()), Vec::len);
        let mut times = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            lsp.request(method, params.clone());
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        println!("{name:<52} {:>12.3} {items:>8}", median(times));
    }
    lsp.shutdown();
}
