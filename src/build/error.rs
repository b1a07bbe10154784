//! The build layer's one error type: a malformed option value, a bake file
//! error located in its file, or a malformed `buildkit.build` setting.

use std::path::Path;

use super::bake::{BakeErrorKind, Origin};
use crate::dockerfile::{Range, Span};

/// What can go wrong describing a build: parsing buildx's option syntax,
/// reading a bake file, or reading the editor's build settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A malformed option value; the message names the flag and the value.
    #[error("invalid {flag} value {value:?}: {reason}")]
    InvalidOption {
        flag: &'static str,
        value: String,
        reason: String,
    },
    /// A bake file error, located in the file.
    #[error("{}:{}:{}: {message}", origin.file.display(), origin.range.start.line + 1, origin.range.start.character + 1)]
    Bake {
        kind: BakeErrorKind,
        origin: Origin,
        message: String,
    },
    /// A `buildkit.build.*` setting holding a malformed option value.
    #[error("buildkit.build.{setting}: {source}")]
    Setting {
        setting: &'static str,
        source: Box<Error>,
    },
    /// The `buildkit.build` object itself does not have the settings' shape.
    #[error("buildkit.build settings: {0}")]
    Settings(String),
}

impl Error {
    /// A bake file that exists but cannot be read, at the start of the
    /// file, for callers that read the files.
    pub fn unreadable(path: &Path, reason: impl std::fmt::Display) -> Error {
        Error::Bake {
            kind: BakeErrorKind::Read,
            origin: Origin {
                file: path.to_path_buf(),
                span: Span::empty(0),
                range: Range::default(),
                range_utf8: Range::default(),
            },
            message: format!("cannot read the bake file: {reason}"),
        }
    }

    /// What went wrong in a bake file, for bake errors.
    pub fn bake_kind(&self) -> Option<BakeErrorKind> {
        match self {
            Error::Bake { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Where in a bake file, for bake errors.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Error::Bake { origin, .. } => Some(origin),
            _ => None,
        }
    }
}
