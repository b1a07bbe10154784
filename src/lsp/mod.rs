//! The editor surface: a language server on stdio. Holds documents, settings
//! and sessions; turns requests into calls on `dockerfile`, `build`, `builder`
//! and `buildkit`, and their events into LSP messages. No build logic here.
