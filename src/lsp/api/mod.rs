//! One file per LSP request or notification. Each handler takes the session
//! (and the client, when it must talk back) and the request's params; handlers
//! never call each other.

pub mod code_action;
pub mod code_lens;
pub mod completion;
pub mod completion_resolve;
pub mod diagnostic;
pub mod did_change;
pub mod did_change_configuration;
pub mod did_change_watched_files;
pub mod did_close;
pub mod did_open;
pub mod did_save;
pub mod document_highlight;
pub mod document_link;
pub mod document_symbol;
pub mod execute_command;
pub mod folding_range;
pub mod formatting;
pub mod goto_definition;
pub mod hover;
pub mod initialize;
pub mod initialized;
pub mod inlay_hint;
pub mod on_type_formatting;
pub mod range_formatting;
pub mod references;
pub mod rename;
pub mod semantic_tokens;
pub mod signature_help;
