//! Which builders exist: the store `docker buildx` uses (same directory, same
//! JSON, same lock), the name rules, selection of the builder a build uses,
//! and the store side of create / use / rm. Drivers plug in by kind through
//! `status` (status, bootstrap, stop, teardown).

pub mod context;
mod gojson;
pub mod history;
pub mod insight;
pub mod manage;
pub mod name;
pub mod nodegroup;
pub mod platform;
pub mod run;
pub mod selection;
pub mod status;
pub mod store;

use std::path::PathBuf;

pub use context::Env;
pub use nodegroup::{Node, NodeGroup};
pub use selection::{select, Selected, Source};
pub use store::{Store, Txn};

/// Errors of the builder layer. Messages that buildx also prints use
/// buildx's wording, so users can search for them.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    #[error("invalid name {0}, name needs to start with a letter and may not contain symbols, except ._-")]
    InvalidName(String),
    #[error(transparent)]
    InvalidPlatform(#[from] crate::platform::PlatformError),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot lock the builder store at {}: {source}", path.display())]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("builder file {} is not valid buildx JSON ({reason}); fix or remove it", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("no builder {0:?} found")]
    NotFound(String),
    /// A refusal worded as buildx words it.
    #[error("{0}")]
    Invalid(String),
    /// A driver failed to start, stop or reach a node.
    #[error("builder {builder:?}: {detail}")]
    Node { builder: String, detail: String },
    #[error("cannot {action} builder {builder:?}: driver {driver} not available yet in this build of buildkit-lsp")]
    DriverUnavailable {
        builder: String,
        driver: String,
        action: &'static str,
    },
    /// A build through the builder failed, was refused by BuildKit or was
    /// cancelled.
    #[error(transparent)]
    Build(#[from] crate::buildkit::BuildkitError),
}

/// Opens the store this process's environment points at.
pub fn open_store(env: &Env) -> Result<Store, BuilderError> {
    Store::open(env.buildx_dir())
}
