//! The bridge from a document to the `dockerfile` module's pure analysis:
//! parse, model, checks. Results are converted to LSP types here, so request
//! handlers only deal with positions and protocol shapes.

use ls_types::Diagnostic;

use super::document::Document;
use super::position::Encoding;
use super::settings::Settings;

/// The diagnostics of a document under the given settings. Documents the
/// server does not analyse (too large, binary) have none.
pub fn diagnostics(doc: &Document, _settings: &Settings, _enc: Encoding) -> Vec<Diagnostic> {
    if doc.skip_reason().is_some() {
        return Vec::new();
    }
    Vec::new()
}
