//! buildkit-lsp: a Dockerfile language server that knows which BuildKit builder
//! the user builds with, and builds for them. The README's code map describes
//! the layers; data flows down, never back up:
//! `lsp`/`cli` → `build` → `dockerfile`, and `builder` → `driver` → `buildkit`.

pub mod build;
pub mod builder;
pub mod buildkit;
pub mod cli;
pub mod dockerfile;
pub mod dockerignore;
pub mod driver;
pub mod insight;
pub mod lsp;
pub mod options;
pub mod platform;
