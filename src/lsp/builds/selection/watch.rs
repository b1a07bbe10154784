//! The status watch of the selected builder: polls it every 10 s (and at
//! once when the selection changes), keeps the cached status, features and
//! builder list current, sends `buildkit/builderChanged` when what the user
//! sees changes, and says once per outage that the builder stopped answering.

use std::sync::Arc;
use std::time::Duration;

use ls_types::notification::Notification;
use ls_types::MessageType;
use serde::{Deserialize, Serialize};
use tower_lsp_server::Client;

use super::{
    blocking, probe, read_store, refresh_lenses, resolve, CurrentBuilder, KnownBuilder, KnownStatus,
};
use crate::builder::status::driver_kind;
use crate::builder::Env;
use crate::lsp::session::Session;
use crate::lsp::session::Stale;

/// Time between two polls of the selected builder.
const POLL_INTERVAL: Duration = Duration::from_secs(10);

/// `buildkit/builderChanged`: the selected builder and whether it answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuilderChangedParams {
    pub name: String,
    pub driver: String,
    pub status: String,
    pub reachable: bool,
    pub message: Option<String>,
}

pub enum BuilderChanged {}

impl Notification for BuilderChanged {
    type Params = BuilderChangedParams;
    const METHOD: &'static str = "buildkit/builderChanged";
}

/// Starts the watch (once per session).
pub fn start(session: &Arc<Session>, client: &Client) {
    let wake = {
        let mut state = session.state();
        if state.builders.watching {
            return;
        }
        state.builders.watching = true;
        Arc::clone(&state.builders.wake)
    };
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move {
        loop {
            poll(&session, &client).await;
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = wake.notified() => {}
            }
        }
    });
}

/// Asks the watch to poll now (selection changed, a builder was started).
pub fn wake(session: &Session) {
    session.state().builders.wake.notify_one();
}

/// One poll: re-resolve the selection from the store, probe the builder,
/// update the caches, and tell the client what changed.
pub async fn poll(session: &Arc<Session>, client: &Client) {
    let (chosen, epoch) = {
        let state = session.state();
        (
            state.builders.chosen.clone(),
            state.builders.selection_epoch,
        )
    };
    let env = Env::from_process();
    let read = blocking(move || {
        let current = resolve(&env, chosen.as_deref())?;
        let (groups, _) = read_store(&env)?;
        Ok((current, groups))
    })
    .await;
    let (mut current, groups) = match read {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("cannot read the builder store: {e}");
            return;
        }
    };
    let (status, features) = probe(&current.group).await;
    let first = session.state().builders.current.is_none();
    let Some((changed, refresh, notice, send_notice, outage_message)) = update(
        session,
        epoch,
        first,
        &mut current,
        &groups,
        &status,
        features,
    ) else {
        return; // the selection changed meanwhile; the next poll covers it
    };
    if changed {
        tracing::info!(
            "builder {} ({}) {:?}",
            current.name,
            current.driver,
            current.features
        );
        if first {
            // Before the first resolution no document had builder findings:
            // only those that have some now need publishing again (no epoch
            // bump, so debounced edits in flight still publish).
            super::findings::schedule_with_findings(session);
        } else {
            session.report_stale(Stale::All);
        }
        if refresh {
            refresh_lenses(client);
        }
    }
    if send_notice {
        client.send_notification::<BuilderChanged>(notice).await;
    }
    if let Some(message) = outage_message {
        tracing::warn!("{message}");
        client.show_message(MessageType::WARNING, message).await;
    }
}

type Update = (bool, bool, BuilderChangedParams, bool, Option<String>);

/// Writes a poll's result into the session: (builder changed, refresh
/// lenses, the notice, whether to send it, the outage message to show).
/// `None` if the selection changed since the poll started.
fn update(
    session: &Session,
    epoch: u64,
    first: bool,
    current: &mut CurrentBuilder,
    groups: &[crate::builder::NodeGroup],
    status: &KnownStatus,
    features: Option<crate::driver::Features>,
) -> Option<Update> {
    let mut state = session.state();
    if state.builders.selection_epoch != epoch {
        return None;
    }
    let b = &mut state.builders;
    b.known = groups
        .iter()
        .map(|g| KnownBuilder {
            name: g.name.clone(),
            driver: driver_kind(g).to_string(),
        })
        .collect();
    b.statuses.insert(current.name.clone(), status.clone());
    match features {
        Some(f) => current.features = Some(f),
        // Keep what an earlier probe of the same builder found (the engine
        // may not answer this time).
        None => {
            if let Some(old) = b
                .current
                .as_ref()
                .filter(|c| c.name == current.name && c.driver == current.driver)
            {
                current.features = old.features;
            }
        }
    }
    let changed = b.current.as_ref() != Some(&*current);
    b.current = Some(current.clone());
    let notice = notice_for(current, status);
    let send_notice = b.last_notice.as_ref() != Some(&notice_key(&notice));
    if send_notice {
        b.last_notice = Some(notice_key(&notice));
    }
    let outage_message = if notice.reachable {
        b.outage_reported = false;
        None
    } else if b.outage_reported {
        None
    } else {
        b.outage_reported = true;
        Some(format!(
            "Builder {} stopped answering: {}",
            current.name,
            status.error.as_deref().unwrap_or(status.status)
        ))
    };
    if changed && !first {
        state.settings_epoch += 1;
    }
    let refresh = changed && state.features.code_lens_refresh;
    Some((changed, refresh, notice, send_notice, outage_message))
}

/// The notification for a builder in a status.
pub fn notice_for(current: &CurrentBuilder, status: &KnownStatus) -> BuilderChangedParams {
    let reachable = status.reachable();
    BuilderChangedParams {
        name: current.name.clone(),
        driver: current.driver.clone(),
        status: status.status.to_string(),
        reachable,
        message: if reachable {
            None
        } else {
            status.error.clone()
        },
    }
}

fn notice_key(n: &BuilderChangedParams) -> (String, String, bool) {
    (n.name.clone(), n.status.clone(), n.reachable)
}

/// After a selection change: cache the new builder, re-validate every open
/// document, refresh lenses, tell the client, and poll the builder now.
pub async fn selection_changed(session: &Arc<Session>, client: &Client, current: CurrentBuilder) {
    let (notice, refresh) = {
        let mut state = session.state();
        let b = &mut state.builders;
        b.selection_epoch += 1;
        b.outage_reported = false;
        let status = b
            .statuses
            .get(&current.name)
            .cloned()
            .unwrap_or(KnownStatus {
                status: "unknown",
                platforms: Vec::new(),
                error: None,
            });
        // Until the poll answers, an unknown status is not an outage.
        let mut notice = notice_for(&current, &status);
        if status.status == "unknown" {
            notice.reachable = true;
            notice.message = None;
        }
        b.last_notice = Some(notice_key(&notice));
        b.current = Some(current);
        b.wake.notify_one();
        state.settings_epoch += 1;
        (notice, state.features.code_lens_refresh)
    };
    session.report_stale(Stale::All);
    if refresh {
        refresh_lenses(client);
    }
    client.send_notification::<BuilderChanged>(notice).await;
}
