//! The terminal surface: `buildkit-lsp [serve]`, `check`, `parse`, `build`,
//! `builder …`. Each subcommand lives in its own file; `anyhow` is allowed here
//! and nowhere below.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod bake;
mod build;
mod builder;
mod check;
mod parse;
mod serve;

/// A Dockerfile language server that knows your BuildKit builder.
#[derive(Debug, Parser)]
#[command(name = "buildkit-lsp", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the language server on stdio (the default with no arguments).
    Serve(serve::ServeArgs),
    /// Run BuildKit's build checks on Dockerfiles (exit 0 clean, 1 findings, 2 errors).
    Check(check::CheckArgs),
    /// Dump the parse of a Dockerfile (debugging aid, stable JSON schema).
    Parse(parse::ParseArgs),
    /// Build an image through BuildKit's API (buildx option syntax).
    Build(Box<build::BuildArgs>),
    /// Build bake targets or Compose services (`docker buildx bake` naming).
    Bake(bake::BakeArgs),
    /// List, create, use, remove, inspect and stop builders (the buildx store).
    Builder(builder::BuilderArgs),
}

/// Entry point of the binary. Exit codes: 0 success, 1 findings or a failed
/// build, 2 usage or I/O errors.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        None => serve::run(serve::ServeArgs::default()),
        Some(Command::Serve(args)) => serve::run(args),
        Some(Command::Check(args)) => check::run(args),
        Some(Command::Parse(args)) => parse::run(args),
        Some(Command::Build(args)) => build::run(*args),
        Some(Command::Bake(args)) => bake::run(args),
        Some(Command::Builder(args)) => builder::run(args),
    }
}
