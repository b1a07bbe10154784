//! What the session keeps about builds started from the editor: the
//! running ones (to cancel them), build-on-save state, and failed builds'
//! diagnostics. Data only; `lsp::builds::run` starts and drives the builds.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard};

use ls_types::Diagnostic;
use tokio_util::sync::CancellationToken;

use super::failures::Failure;
use crate::lsp::position::Encoding;

/// A build is identified by its document and target.
pub(crate) type Key = (String, Option<String>);

#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) id: String,
    pub(crate) cancel: CancellationToken,
    /// The work-done progress token, once created.
    pub(crate) progress: Option<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Inner {
    pub(crate) running: HashMap<Key, Running>,
    /// The target each document was last built with, for build on save.
    pub(crate) last_target: HashMap<String, Option<String>>,
    /// Saves per document, so only the last of rapid saves builds.
    pub(crate) saves: HashMap<String, u64>,
    /// Failed builds' diagnostics per document.
    pub(crate) failures: HashMap<String, Vec<Failure>>,
}

/// The builds of a session: running ones, failures, build-on-save state.
#[derive(Debug, Default)]
pub struct Builds {
    inner: Mutex<Inner>,
    pub(crate) next_id: AtomicU64,
    /// The last builds' insight, per document.
    pub insight: super::insight::Insights,
}

impl Builds {
    pub(crate) fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The `BuildFailed` diagnostics of a document with text `text`: failures
    /// whose instruction was edited are dropped for good, the others follow
    /// their instruction.
    pub fn failure_diagnostics(&self, uri: &str, text: &str, enc: Encoding) -> Vec<Diagnostic> {
        let mut inner = self.inner();
        let Some(list) = inner.failures.get_mut(uri) else {
            return Vec::new();
        };
        // A dropped failure is already absent from this result, so pull
        // result ids need no change for it (recorded and cleared failures go
        // through `diagnostics::invalidate`).
        list.retain_mut(|f| f.relocate(text));
        list.iter().map(|f| f.diagnostic(enc)).collect()
    }

    /// Cancels builds matching `pred`; returns how many.
    pub(crate) fn cancel_where(&self, pred: impl Fn(&Key, &Running) -> bool) -> usize {
        let inner = self.inner();
        let mut n = 0;
        for (key, run) in &inner.running {
            if pred(key, run) && !run.cancel.is_cancelled() {
                run.cancel.cancel();
                n += 1;
            }
        }
        n
    }
}
