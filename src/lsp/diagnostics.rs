//! Push diagnostics, scheduled leading-edge and latest-wins.
//!
//! - An edit that arrives while nothing computes for its document is
//!   computed at once (no fixed delay: `buildkit.diagnostics.debounceMs`
//!   defaults to 0 and only adds a trailing delay when a user sets it).
//! - Edits that arrive while a computation of the same document runs
//!   collapse into one follow-up, which reads the latest version when it
//!   starts, as soon as the running one ends.
//! - A result is published only if the document and the settings have not
//!   changed since it was computed, so stale results never overwrite newer
//!   ones; the follow-up publishes the newer version.
//! - Work that is not an edit of the document (other documents after a
//!   settings or builder change, builder findings, bake re-evaluation, a
//!   failed build) is background: one document at a time, after every
//!   queued edit, yielding to incoming messages between documents, so it
//!   never runs ahead of the edited document's own diagnostics.

use std::sync::Arc;
use std::time::Duration;

use ls_types::Uri;
use tower_lsp_server::Client;

use ls_types::Diagnostic;

use super::builds::selection::findings;
use super::diagnostic_conv;
use super::document::{self, Document};
use super::position::Encoding;
use super::session::scheduler::Run;
use super::session::{Session, Stale};
use super::settings::Settings;
use crate::dockerfile::Model;

/// Makes this module the session's handler of stale diagnostics
/// ([`Session::report_stale`]): features report, this module schedules.
pub fn attach(session: &Session, client: Client) {
    session.on_stale(Box::new(move |session, stale| match stale {
        Stale::All => schedule_all(session, &client),
        Stale::Document { uri, immediate } => schedule(session, &client, uri, immediate),
        Stale::Invalidated(uri) => invalidate(session, &client, uri),
    }));
}

/// What a computation was made from: results of another key are stale.
type Key = (u64, u64);

/// Schedules diagnostics for `uri`. `immediate` is false for an edit of the
/// document itself (computed at once, or after the delay a user
/// configured), true for any other cause (background: after pending edits,
/// never with a delay).
pub fn schedule(session: &Arc<Session>, client: &Client, uri: Uri, immediate: bool) {
    let delay = {
        let state = session.state();
        if !state.features.diagnostic_mode.pushes() {
            return;
        }
        if !state.documents.contains_key(uri.as_str()) {
            return;
        }
        state.client_settings.debounce_ms
    };
    if immediate {
        background(session, client, uri);
    } else if delay == 0 {
        edited(session, client, uri);
    } else {
        delayed(session, client, uri, Duration::from_millis(delay));
    }
}

/// The opt-in trailing delay: computes after `delay` unless another edit
/// came meanwhile (that edit's own timer owns it then).
fn delayed(session: &Arc<Session>, client: &Client, uri: Uri, delay: Duration) {
    let Some(key) = current_key(session, &uri) else {
        return;
    };
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        if current_key(&session, &uri) == Some(key) {
            edited(&session, &client, uri);
        }
    });
}

/// An edit: computes now unless this document is computing, in which case
/// one follow-up is owed.
fn edited(session: &Arc<Session>, client: &Client, uri: Uri) {
    {
        let mut q = session.diagnostics.queues();
        if let Some(run) = q.running.get_mut(uri.as_str()) {
            run.edited = true;
            return;
        }
        q.running.insert(uri.as_str().to_string(), Run::default());
        q.edits_running += 1;
    }
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move {
        drive(&session, &client, &uri).await;
        let last = {
            let mut q = session.diagnostics.queues();
            q.edits_running -= 1;
            q.edits_running == 0
        };
        if last {
            session.diagnostics.idle.notify_one();
        }
    });
}

/// Queues a background computation of `uri` and makes sure the worker runs.
fn background(session: &Arc<Session>, client: &Client, uri: Uri) {
    {
        let mut q = session.diagnostics.queues();
        if !q.background.iter().any(|u| u == &uri) {
            q.background.push_back(uri);
        }
        if std::mem::replace(&mut q.worker, true) {
            return;
        }
    }
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move { background_worker(&session, &client).await });
}

/// Computes the background queue one document at a time; before each one,
/// lets the messages that arrived meanwhile be handled and waits for every
/// edit computation to end.
async fn background_worker(session: &Arc<Session>, client: &Client) {
    loop {
        // A few turns of the (single-threaded) runtime: an edit read from
        // stdin passes the transport and the library before its handler
        // runs, each a task of its own.
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        let uri = {
            let mut q = session.diagnostics.queues();
            if q.edits_running > 0 {
                None
            } else {
                match q.background.pop_front() {
                    Some(uri) => Some(uri),
                    None => {
                        q.worker = false;
                        return;
                    }
                }
            }
        };
        let Some(uri) = uri else {
            session.diagnostics.idle.notified().await;
            continue;
        };
        {
            let mut q = session.diagnostics.queues();
            if let Some(run) = q.running.get_mut(uri.as_str()) {
                // Computing now for an edit: it owes one more for this cause.
                run.forced = true;
                continue;
            }
            q.running.insert(uri.as_str().to_string(), Run::default());
        }
        drive(session, client, &uri).await;
    }
}

/// Computes and publishes `uri` (an entry in `running` was made for it)
/// until nothing more is owed, then removes the entry.
async fn drive(session: &Arc<Session>, client: &Client, uri: &Uri) {
    let mut computed = compute_and_publish(session, client, uri).await;
    loop {
        let again = {
            let mut q = session.diagnostics.queues();
            let run = q.running.get(uri.as_str()).copied().unwrap_or_default();
            let changed = run.edited && current_key(session, uri) != computed;
            if run.forced || changed {
                q.running.insert(uri.as_str().to_string(), Run::default());
                true
            } else {
                q.running.remove(uri.as_str());
                false
            }
        };
        if !again {
            return;
        }
        computed = compute_and_publish(session, client, uri).await;
    }
}

/// The document's generation and the settings epoch, `None` once closed.
fn current_key(session: &Session, uri: &Uri) -> Option<Key> {
    let state = session.state();
    state
        .documents
        .get(uri.as_str())
        .map(|d| (d.generation(), state.settings_epoch))
}

/// One computation of the current version; publishes it if it is still
/// current when done. Returns the key it computed (`None`: closed).
async fn compute_and_publish(session: &Arc<Session>, client: &Client, uri: &Uri) -> Option<Key> {
    let (doc, settings, enc, key) = {
        let state = session.state();
        let d = state.documents.get(uri.as_str())?;
        (
            document::private_copy(d),
            state.settings(),
            state.features.encoding,
            (d.generation(), state.settings_epoch),
        )
    };
    let started = std::time::Instant::now();
    findings::note_edit(session, client, uri, &doc);
    let diagnostics = collect(session, uri, &doc, &settings, enc).await;
    let _guard = session.publish.lock().await;
    if current_key(session, uri) != Some(key) {
        tracing::debug!("dropping stale diagnostics for {}", uri.as_str());
        return Some(key);
    }
    tracing::debug!(
        "diagnostics for {} v{}: {} in {:?}",
        uri.as_str(),
        doc.version(),
        diagnostics.len(),
        started.elapsed()
    );
    client
        .publish_diagnostics(uri.clone(), diagnostics, Some(doc.version()))
        .await;
    Some(key)
}

/// Everything shown for one document, from one parse: parse errors and
/// build checks (not for bake files), capability findings against the
/// selected builder, failed-build diagnostics. Push and pull both use it.
pub async fn collect(
    session: &Session,
    uri: &Uri,
    doc: &Document,
    settings: &Settings,
    enc: Encoding,
) -> Vec<Diagnostic> {
    // Cached after the first read; the read happens here, off the
    // keystroke path.
    let ignore = session.ignores.for_document(uri).await;
    // Only Dockerfiles are parsed as such (`lsp::kind`).
    let df = match doc.kind().is_dockerfile() {
        true => doc.parse_transient(),
        false => None,
    };
    // One model for the build checks and the builder findings.
    let model = df.as_deref().map(Model::build);
    let analysis = df.as_deref().zip(model.as_ref());
    let mut out = match analysis {
        Some((df, model)) => diagnostic_conv::diagnostics(df, model, settings, ignore, enc),
        None => Vec::new(),
    };
    out.extend(crate::lsp::compose::api::diagnostics(uri, doc, enc));
    out.extend(findings::diagnostics(session, uri, analysis, enc).await);
    out.extend(crate::lsp::bake::dispatch::diagnostics(session, uri));
    out.extend(
        session
            .builds
            .failure_diagnostics(uri.as_str(), doc.text(), enc),
    );
    out
}

/// Re-computes `uri`'s diagnostics after a change that is not an edit of it
/// (a build failed, its ignore file or builder findings changed): pushed at
/// once, and pull clients are told to re-pull.
pub fn invalidate(session: &Arc<Session>, client: &Client, uri: Uri) {
    schedule(session, client, uri, true);
    refresh_pulled(session, client);
}

/// Tells a pull client that the diagnostics it pulled are stale
/// (`workspace/diagnostic/refresh`, when it supports it): the request makes
/// it re-pull every open document, so a burst of causes (a builder switch
/// re-validates every document) is coalesced into one request.
fn refresh_pulled(session: &Arc<Session>, client: &Client) {
    use std::sync::atomic::Ordering;
    session.pull_epoch.fetch_add(1, Ordering::Relaxed);
    let wanted = {
        let state = session.state();
        state.features.diagnostic_mode.pulls() && state.features.diagnostic_refresh
    };
    if !wanted || session.pull_refresh_pending.swap(true, Ordering::AcqRel) {
        return;
    }
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        session.pull_refresh_pending.store(false, Ordering::Release);
        if let Err(e) = client.workspace_diagnostic_refresh().await {
            tracing::debug!("workspace/diagnostic/refresh failed: {e}");
        }
    });
}

/// Re-publishes diagnostics of every open document (settings changed,
/// builder switched), and has pull clients re-pull them.
pub fn schedule_all(session: &Arc<Session>, client: &Client) {
    let uris: Vec<Uri> = {
        let state = session.state();
        state
            .documents
            .keys()
            .filter_map(|k| k.parse().ok())
            .collect()
    };
    for uri in uris {
        schedule(session, client, uri, true);
    }
    refresh_pulled(session, client);
}
