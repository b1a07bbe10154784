//! What the Dockerfile says: a lossless parser with exact ranges, the semantic
//! model (stages, ARG/ENV scopes, references) and BuildKit's build checks.
//! Architecture invariant: pure and synchronous — no I/O, no async, no panics
//! on any input.
//!
//! Entry points: [`parse`] (text → [`Dockerfile`] syntax tree, never fails,
//! errors collected inside) and [`parse_bytes`] (for files: rejects invalid
//! UTF-8 with the byte offset).

pub mod checks;
mod error;
pub mod incremental;
pub mod model;
pub mod parser;
pub mod syntax;
pub mod text;

pub use error::Error;
pub use model::Model;
pub use parser::{parse, parse_bytes};
pub use syntax::*;
pub use text::{LineIndex, Position, PositionEncoding, Range, Span};
