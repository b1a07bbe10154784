//! `buildkit-lsp parse --json FILE`: a debug dump of the parse in a stable
//! schema (documented in docs/dockerfile.md). Reads bytes; a file that is not
//! UTF-8 is an I/O-class error (exit 2) naming the byte offset.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{json, Value};

use crate::dockerfile::{parse_bytes, Dockerfile, Instruction, Span};

#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// Print the parse as JSON (the only format for now).
    #[arg(long)]
    pub json: bool,
    /// The Dockerfile to parse (`-` for stdin).
    pub file: PathBuf,
}

pub fn run(args: ParseArgs) -> ExitCode {
    match dump(&args) {
        Ok(out) => {
            println!("{out}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("buildkit-lsp parse: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn dump(args: &ParseArgs) -> anyhow::Result<String> {
    let bytes = if args.file.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).context("reading stdin")?;
        buf
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let df = parse_bytes(&bytes).with_context(|| format!("parsing {}", args.file.display()))?;
    Ok(serde_json::to_string_pretty(&to_json(&df))?)
}

/// The `parse --json` document for a parsed Dockerfile.
pub fn to_json(df: &Dockerfile) -> Value {
    let range = |s: Span| serde_json::to_value(df.range(s)).unwrap_or(Value::Null);
    json!({
        "directives": df.directives.iter().map(|d| json!({
            "name": d.name,
            "value": d.value,
            "range": range(d.span),
        })).collect::<Vec<_>>(),
        "instructions": df.instructions.iter().map(|i| instruction(df, i)).collect::<Vec<_>>(),
        "errors": df.errors.iter().map(|e| json!({
            "message": e.message,
            "range": range(e.span),
        })).collect::<Vec<_>>(),
    })
}

fn instruction(df: &Dockerfile, ins: &Instruction) -> Value {
    let keyword = if ins.kind == crate::dockerfile::InstructionKind::Unknown {
        ins.keyword.as_str().to_uppercase()
    } else {
        ins.kind.as_str().to_string()
    };
    json!({
        "keyword": keyword,
        "range": serde_json::to_value(df.range(ins.span)).unwrap_or(Value::Null),
        "flags": ins.flags.iter().map(|f| f.to_flag_string()).collect::<Vec<_>>(),
        "args": ins.args.iter().map(|a| a.value.clone()).collect::<Vec<_>>(),
        "json": ins.is_json(),
        "heredocs": ins.heredocs.iter().map(|h| json!({
            "name": h.name,
            "body": h.body,
            "expand": h.expand,
        })).collect::<Vec<_>>(),
        "onbuild": ins.onbuild.as_deref().map(|o| instruction(df, o)),
    })
}
