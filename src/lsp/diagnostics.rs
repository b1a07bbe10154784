//! Push diagnostics: each change schedules a computation after the debounce;
//! a result is published only if the document has not changed since it was
//! scheduled, so stale results never overwrite newer ones.

use std::sync::Arc;
use std::time::Duration;

use ls_types::Uri;
use tower_lsp_server::Client;

use ls_types::Diagnostic;

use super::builds::selection::findings;
use super::diagnostic_conv;
use super::document::{self, Document};
use super::position::Encoding;
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

/// Schedules diagnostics for `uri` at its current generation. `immediate`
/// skips the debounce (document just opened, settings changed).
pub fn schedule(session: &Arc<Session>, client: &Client, uri: Uri, immediate: bool) {
    let (generation, delay) = {
        let state = session.state();
        if !state.features.diagnostic_mode.pushes() {
            return;
        }
        let Some(doc) = state.documents.get(uri.as_str()) else {
            return;
        };
        let delay = if immediate {
            0
        } else {
            state.client_settings.debounce_ms
        };
        ((doc.generation(), state.settings_epoch), delay)
    };
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move {
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let Some((doc, settings, enc)) = ({
            let state = session.state();
            state
                .documents
                .get(uri.as_str())
                .filter(|d| (d.generation(), state.settings_epoch) == generation)
                .map(|d| {
                    (
                        document::private_copy(d),
                        state.settings(),
                        state.features.encoding,
                    )
                })
        }) else {
            return; // closed or changed again: a newer task owns it
        };
        let started = std::time::Instant::now();
        findings::note_edit(&session, &client, &uri, &doc);
        let diagnostics = collect(&session, &uri, &doc, &settings, enc).await;
        let _guard = session.publish.lock().await;
        let current = {
            let state = session.state();
            state
                .documents
                .get(uri.as_str())
                .map(|d| (d.generation(), state.settings_epoch))
        };
        if current != Some(generation) {
            tracing::debug!("dropping stale diagnostics for {}", uri.as_str());
            return;
        }
        tracing::debug!(
            "diagnostics for {} v{}: {} in {:?}",
            uri.as_str(),
            doc.version(),
            diagnostics.len(),
            started.elapsed()
        );
        client
            .publish_diagnostics(uri, diagnostics, Some(doc.version()))
            .await;
    });
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
    let df = match findings::is_bake_uri(uri) {
        true => None,
        false => doc.parse_transient(),
    };
    // One model for the build checks and the builder findings.
    let model = df.as_deref().map(Model::build);
    let analysis = df.as_deref().zip(model.as_ref());
    let mut out = match analysis {
        Some((df, model)) => diagnostic_conv::diagnostics(df, model, settings, ignore, enc),
        None => Vec::new(),
    };
    out.extend(findings::diagnostics(session, uri, analysis, enc).await);
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
