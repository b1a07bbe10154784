//! What the Dockerfile says: a lossless parser with exact ranges, the semantic
//! model (stages, ARG/ENV scopes, references) and BuildKit's build checks.
//! Architecture invariant: pure and synchronous — no I/O, no async, no panics
//! on any input.
