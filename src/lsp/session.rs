//! The session: everything the server knows between requests — open
//! documents, effective settings, what the client supports. Request handlers
//! get it by reference and never reach into each other.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use ls_types::Uri;

pub mod bake_eval;
pub mod builders;
pub mod builds;
pub mod failures;
pub mod ignores;
pub mod insight;
pub mod scheduler;
pub mod trust;

use super::capabilities::ClientFeatures;
use super::document::Document;
use super::settings::Settings;
use crate::dockerfile::{Dockerfile, Model};
use ignores::IgnoreCache;

/// Mutable state behind one lock; every handler holds it briefly and never
/// across an `.await`.
#[derive(Debug, Default)]
pub struct State {
    /// Shared copies: requests keep a snapshot while edits copy on write.
    pub documents: HashMap<String, Arc<Document>>,
    /// Settings as the client sent them.
    pub client_settings: Settings,
    /// Values for keys the client leaves unset (from the command line).
    pub defaults: Settings,
    /// Rules the user chose to ignore everywhere through a command, kept on
    /// top of the client's settings until the client sends a skip list that
    /// includes them.
    pub ignored_everywhere: Vec<String>,
    pub features: ClientFeatures,
    /// Bumped when settings or `.dockerignore` patterns change, so
    /// diagnostics computed under old inputs count as stale too.
    pub settings_epoch: u64,
    /// The workspace's builder: choice, resolved builder, cached statuses.
    pub builders: builders::BuilderState,
}

impl State {
    /// Client settings with the command-added skips merged in.
    pub fn settings(&self) -> Settings {
        let mut s = self.client_settings.clone();
        for rule in &self.ignored_everywhere {
            if !s.skip.iter().any(|r| r == rule) {
                s.skip.push(rule.clone());
            }
        }
        s
    }
}

/// Diagnostics that went stale without an edit of their document (a
/// builder switched, a build failed, a bake file or ignore file changed).
/// Features report it to the session; the diagnostics module, which the
/// server attaches as the handler, decides when to re-compute. So no
/// feature imports `diagnostics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// Every open document, and pull clients re-pull.
    All,
    /// One document, re-computed at once (`immediate`) or after the debounce.
    Document { uri: Uri, immediate: bool },
    /// One document whose pulled diagnostics are stale too.
    Invalidated(Uri),
}

/// What the session calls when diagnostics go stale.
pub type StaleHandler = Box<dyn Fn(&Arc<Session>, Stale) + Send + Sync>;

#[derive(Default)]
struct OnStale(std::sync::OnceLock<StaleHandler>);

impl std::fmt::Debug for OnStale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "OnStale(attached)"
        } else {
            "OnStale(none)"
        })
    }
}

/// Everything a read-only request needs, taken under the lock once.
pub struct Snapshot {
    pub doc: Arc<Document>,
    pub df: Arc<Dockerfile>,
    pub model: Arc<Model>,
    pub features: ClientFeatures,
    pub settings: Settings,
}

#[derive(Debug, Default)]
pub struct Session {
    state: Mutex<State>,
    generation: AtomicU64,
    /// Held while a diagnostics result is checked for staleness and sent, so
    /// an older result can never be written after a newer one.
    pub publish: tokio::sync::Mutex<()>,
    /// `.dockerignore` patterns by file, for CopyIgnoredFile.
    pub ignores: IgnoreCache,
    /// Builds started from the editor: running ones, failures, saves.
    pub builds: builds::Builds,
    /// Bumped whenever diagnostics go stale without an edit (builder
    /// switched, build failed, settings or ignore files changed); part of
    /// pull results' ids, so a re-pull is never answered `unchanged`.
    pub pull_epoch: AtomicU64,
    /// A `workspace/diagnostic/refresh` is about to be sent (coalescing).
    pub pull_refresh_pending: std::sync::atomic::AtomicBool,
    /// Whether the workspace is trusted (builds allowed); `lsp::trust`.
    pub trust: trust::Trust,
    /// The last evaluation of a folder's bake files (`lsp::bake`).
    pub bake_eval: bake_eval::EvalCache,
    /// Who re-computes stale diagnostics (set once by the server).
    on_stale: OnStale,
    /// Which documents' diagnostics are computing or owed.
    pub diagnostics: scheduler::Scheduler,
    /// didOpen/didChange/didClose notifications the transport passed on,
    /// and those the server has applied: equal when the documents are as
    /// the client last described them (see `document_symbol::Shortcut`).
    pub text_sync_forwarded: AtomicU64,
    pub text_sync_applied: AtomicU64,
}

impl Session {
    pub fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere must not take the whole server down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that a text synchronisation notification was applied.
    pub fn text_sync_applied(&self) {
        self.text_sync_applied.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether every text synchronisation notification received so far has
    /// been applied.
    pub fn text_in_sync(&self) -> bool {
        self.text_sync_applied.load(Ordering::SeqCst)
            == self.text_sync_forwarded.load(Ordering::SeqCst)
    }

    pub fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// A document with what handlers need to answer about it: its parse
    /// (`None` for unopened or unanalysed documents) and the client features.
    pub fn snapshot(&self, uri: &Uri) -> Option<Snapshot> {
        let (doc, features, settings) = {
            let state = self.state();
            let doc = state.documents.get(uri.as_str())?.clone();
            (doc, state.features.clone(), state.settings())
        };
        // Parsed outside the lock: a large document must not stall edits.
        let df = doc.parsed()?.clone();
        let model = doc.model()?.clone();
        Some(Snapshot {
            doc,
            df,
            model,
            features,
            settings,
        })
    }

    /// Sets who re-computes stale diagnostics; the first call wins.
    pub fn on_stale(&self, handler: StaleHandler) {
        let _ = self.on_stale.0.set(handler);
    }

    /// Reports diagnostics gone stale without an edit (see [`Stale`]);
    /// nothing happens before a handler is attached.
    pub fn report_stale(self: &Arc<Self>, stale: Stale) {
        if let Some(handler) = self.on_stale.0.get() {
            handler(self, stale);
        }
    }

    /// A snapshot of an open document, if it is open.
    pub fn document(&self, uri: &Uri) -> Option<Arc<Document>> {
        self.state().documents.get(uri.as_str()).cloned()
    }
}
