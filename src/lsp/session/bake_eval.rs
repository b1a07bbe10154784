//! The session's cache of the last bake evaluation (`lsp::bake::evaluated`
//! fills and reads it). A state type of the session, so it imports no
//! feature.

use std::sync::{Arc, Mutex};

use crate::build::bake::Bake;

/// The last evaluation of a folder's bake files, with a hash of what it was
/// made from (trust state, paths and texts): hover and inlay hints ask for
/// it on every request, and a 2,000-line file takes milliseconds to
/// evaluate.
#[derive(Debug, Default)]
pub struct EvalCache(pub(crate) Mutex<Option<(u64, Arc<Bake>)>>);
