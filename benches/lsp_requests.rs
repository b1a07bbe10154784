//! Round trips of the editing requests over stdio on a 5,000-line
//! Dockerfile (run with `cargo bench --bench lsp_requests`): signature help
//! (flags, arguments, exec form, ONBUILD), document links and one resolve,
//! range formatting, and documentSymbol both right after an edit (cold) and
//! repeated (kept per document version). Medians of 50 requests, measured
//! from the request's first byte written to the response's last byte read.
//! Prints one table; not a pass/fail test.

#[path = "../tests/lsp_support/mod.rs"]
mod lsp_support;

use std::time::Instant;

use lsp_support::{full_capabilities, Lsp};
use serde_json::{json, Value};

/// A multi-stage Dockerfile of `lines` lines: FROM images of every kind a
/// link is made for, flags, exec forms, heredocs and ONBUILD triggers.
fn dockerfile(lines: usize) -> String {
    let images = [
        "golang:1.22",
        "grafana/grafana:11.0.0",
        "ghcr.io/owner/tool:1",
        "quay.io/prometheus/node-exporter",
        "mcr.microsoft.com/dotnet/sdk:8.0",
        "${BASE_IMAGE}",
    ];
    let mut out = String::from("# syntax=docker/dockerfile:1\nARG BASE_IMAGE=alpine:3.20\n");
    let mut n = 2;
    let mut stage = 0;
    while n < lines {
        out.push_str(&format!(
            "FROM --platform=$BUILDPLATFORM {} AS stage{stage}\n",
            images[stage % images.len()]
        ));
        n += 1;
        for i in 0..40 {
            out.push_str(&format!(
                "COPY --chown=app:app --chmod=644 src/{i} /app/{i}/\nRUN --mount=type=cache,target=/root/.cache \\\n    make -j4 target{i}\nCMD [\"/app/bin\", \"--serve\", \"{i}\"]\nONBUILD COPY --chown=app . /src\nRUN <<EOF\necho {i}\nEOF\n"
            ));
            n += 8;
            if n >= lines {
                break;
            }
        }
        stage += 1;
    }
    out
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let text = dockerfile(5000);
    let lines: Vec<&str> = text.lines().collect();
    let (mut lsp, _) = Lsp::start(
        full_capabilities(),
        json!({"buildkit": {"diagnostics": {"debounceMs": 0}}}),
    );
    let uri = "file:///bench/Dockerfile";
    lsp.open(uri, &text);
    lsp.diagnostics(uri, 1);
    let doc = json!({"uri": uri});

    // Lines in the middle of the file.
    let find = |prefix: &str| {
        lines
            .iter()
            .enumerate()
            .skip(lines.len() / 2)
            .find(|(_, l)| l.starts_with(prefix))
            .map(|(i, _)| i as u32)
            .expect("line present")
    };
    let copy = find("COPY ");
    let cmd = find("CMD ");
    let onbuild = find("ONBUILD ");
    let from = find("FROM ");

    let timed = |lsp: &mut Lsp, method: &str, params: Value| {
        let mut xs = Vec::new();
        for _ in 0..50 {
            let t0 = Instant::now();
            lsp.request(method, params.clone());
            xs.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        median(xs)
    };
    let at = |line: u32, character: u32| json!({"textDocument": doc, "position": {"line": line, "character": character}});
    let sig_flag = timed(&mut lsp, "textDocument/signatureHelp", at(copy, 10));
    let sig_arg = timed(&mut lsp, "textDocument/signatureHelp", at(copy, 40));
    let sig_exec = timed(&mut lsp, "textDocument/signatureHelp", at(cmd, 20));
    let sig_onbuild = timed(&mut lsp, "textDocument/signatureHelp", at(onbuild, 16));
    let sig_from = timed(&mut lsp, "textDocument/signatureHelp", at(from, 35));
    let links = timed(
        &mut lsp,
        "textDocument/documentLink",
        json!({"textDocument": doc}),
    );
    let one_link =
        lsp.request("textDocument/documentLink", json!({"textDocument": doc}))[0].clone();
    let n_links = lsp
        .request("textDocument/documentLink", json!({"textDocument": doc}))
        .as_array()
        .map_or(0, Vec::len);
    let resolve = timed(&mut lsp, "documentLink/resolve", one_link);
    let range_fmt = timed(
        &mut lsp,
        "textDocument/rangeFormatting",
        json!({"textDocument": doc, "range": {"start": {"line": copy, "character": 0}, "end": {"line": copy + 20, "character": 0}},
               "options": {"tabSize": 4, "insertSpaces": true}}),
    );
    let symbols_warm = timed(
        &mut lsp,
        "textDocument/documentSymbol",
        json!({"textDocument": doc}),
    );
    // Cold: an edit first, applied (its diagnostics published), then the
    // request that has to build the outline again.
    let mut cold = Vec::new();
    let mut size = 0;
    for v in 2..52 {
        lsp.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": v},
                   "contentChanges": [{"range": {"start": {"line": copy, "character": 0}, "end": {"line": copy, "character": 4}},
                                       "text": "COPY"}]}),
        );
        lsp.diagnostics(uri, v);
        let t0 = Instant::now();
        let r = lsp.request("textDocument/documentSymbol", json!({"textDocument": doc}));
        cold.push(t0.elapsed().as_secs_f64() * 1000.0);
        size = r.to_string().len();
    }

    println!(
        "buildkit-lsp editing requests over stdio ({} lines), median of 50 round trips",
        lines.len()
    );
    println!("  signatureHelp on a flag / source / exec-form string / in ONBUILD / FROM name");
    println!("                                  {sig_flag:.3} / {sig_arg:.3} / {sig_exec:.3} / {sig_onbuild:.3} / {sig_from:.3} ms");
    println!("  documentLink ({n_links} links)          {links:.3} ms");
    println!("  documentLink/resolve            {resolve:.3} ms");
    println!("  rangeFormatting (20 lines)      {range_fmt:.3} ms");
    println!(
        "  documentSymbol after an edit / repeated  {:.3} / {symbols_warm:.3} ms ({} kB response)",
        median(cold),
        size / 1000
    );
}
