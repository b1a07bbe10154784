//! What the session keeps for the diagnostics scheduler: which documents
//! have diagnostics computing or owed. Data only; `lsp::diagnostics`
//! schedules and computes.

use std::collections::{HashMap, VecDeque};

use ls_types::Uri;

/// Which documents have diagnostics computing or owed.
#[derive(Debug, Default)]
pub struct Scheduler {
    queues: std::sync::Mutex<Queues>,
    /// Wakes the background worker when the last edit computation ends.
    pub(crate) idle: tokio::sync::Notify,
}

#[derive(Debug, Default)]
pub(crate) struct Queues {
    /// Documents whose computation runs now, by URI.
    pub(crate) running: HashMap<String, Run>,
    /// How many of `running` were started by an edit (not the background
    /// worker): background work waits while any is.
    pub(crate) edits_running: usize,
    /// Documents owed a computation for a cause other than their own edit,
    /// oldest first, each once.
    pub(crate) background: VecDeque<Uri>,
    /// Whether the background worker task is alive.
    pub(crate) worker: bool,
}

/// What is owed after a running computation.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Run {
    /// An edit arrived: recompute if the document changed meanwhile.
    pub(crate) edited: bool,
    /// Something else changed (findings, a build): recompute in any case.
    pub(crate) forced: bool,
}

impl Scheduler {
    pub(crate) fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }
}
