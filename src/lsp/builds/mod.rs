//! Builds and builders in the editor: which builder a workspace builds with,
//! what that builder's driver cannot do (diagnostics, quick fixes, lenses),
//! and builds run from the editor with progress and cancellation. The build
//! logic itself lives in `build/` and `builder/`; this module only turns it
//! into LSP messages.

pub mod history;
pub mod insight;
pub mod run;
pub mod selection;
