//! URI helpers shared by the editor surface. A leaf: it imports nothing of
//! `crate::lsp`, so any module may use it without joining an import circle.

use std::path::PathBuf;

use ls_types::Uri;

/// The local path of a `file:` URI.
pub fn uri_path(uri: &Uri) -> Option<PathBuf> {
    uri.to_file_path().map(|p| p.into_owned())
}
