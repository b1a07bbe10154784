//! The builder commands of `workspace/executeCommand`: list, select, use
//! (per workspace or globally), create, bootstrap, stop, remove. Store
//! access runs on the blocking pool; driver calls run with timeouts and,
//! where they take a while, with work-done progress.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ls_types::{MessageActionItem, MessageType};
use serde_json::{json, Value};
use tower_lsp_server::Client;

use super::watch;
use super::{
    blocking, probe, read_store, refresh_lenses, same_name, CurrentBuilder, KnownBuilder,
    KnownStatus,
};
use crate::builder::manage::{self, CreateOptions};
use crate::builder::status::{self, driver_kind};
use crate::builder::{selection, BuilderError, Env, NodeGroup};
use crate::lsp::commands;
use crate::lsp::error::LspError;
use crate::lsp::progress::WorkProgress;
use crate::lsp::session::Session;
use crate::lsp::session::Stale;

/// How long a bootstrap may take before the command gives up (pulling is
/// not possible here, but a container start and BuildKit's first answer can
/// take a while on a loaded machine).
const BOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(120);

fn bad_args(command: &str, reason: &str) -> LspError {
    LspError::CommandArguments {
        command: command.to_string(),
        reason: reason.to_string(),
    }
}

/// The one string argument of `useBuilder`-like commands.
fn name_arg(command: &str, args: &[Value]) -> Result<String, LspError> {
    args.first()
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| bad_args(command, "expected one argument: the builder name"))
}

/// `["NAME"]` or `[]` (= the selected builder).
async fn name_or_selected(
    session: &Session,
    command: &str,
    args: &[Value],
) -> Result<String, LspError> {
    match args.first() {
        None | Some(Value::Null) => Ok(super::current(session).await?.name),
        Some(Value::String(n)) if !n.is_empty() => Ok(n.clone()),
        Some(_) => Err(bad_args(
            command,
            "expected [] (the selected builder) or [\"NAME\"]",
        )),
    }
}

/// `buildkit.listBuilders`: every builder with its status (probed now, all
/// at once, each with a timeout).
pub async fn list_builders(session: &Arc<Session>) -> Result<Option<Value>, LspError> {
    Ok(Some(Value::Array(listing(session).await?)))
}

async fn listing(session: &Arc<Session>) -> Result<Vec<Value>, LspError> {
    let env = Env::from_process();
    let (groups, global) = blocking(move || read_store(&env)).await?;
    let selected = super::current(session).await?.name;
    let statuses = futures::future::join_all(groups.iter().map(probe)).await;
    let mut rows = Vec::with_capacity(groups.len());
    {
        let mut state = session.state();
        state.builders.known = known(&groups);
        for (g, (st, _)) in groups.iter().zip(&statuses) {
            state.builders.statuses.insert(g.name.clone(), st.clone());
        }
    }
    for (g, (st, _)) in groups.iter().zip(statuses) {
        rows.push(json!({
            "name": g.name,
            "driver": driver_kind(g),
            "status": st.status,
            "selected": same_name(&g.name, &selected),
            "globalDefault": same_name(&g.name, &global),
            "endpoint": g.nodes.first().map(|n| n.endpoint.as_str()).unwrap_or(""),
            "platforms": st.platforms,
            "error": st.error,
        }));
    }
    Ok(rows)
}

fn known(groups: &[NodeGroup]) -> Vec<KnownBuilder> {
    groups
        .iter()
        .map(|g| KnownBuilder {
            name: g.name.clone(),
            driver: driver_kind(g).to_string(),
        })
        .collect()
}

/// `buildkit.selectBuilder`: asks with `window/showMessageRequest`, one
/// action per builder titled `name (driver, status)`, then as `useBuilder`.
pub async fn select_builder(
    session: &Arc<Session>,
    client: &Client,
) -> Result<Option<Value>, LspError> {
    let rows = listing(session).await?;
    let title = |r: &Value| {
        format!(
            "{} ({}, {})",
            r["name"].as_str().unwrap_or(""),
            r["driver"].as_str().unwrap_or(""),
            r["status"].as_str().unwrap_or("")
        )
    };
    let actions: Vec<MessageActionItem> = rows
        .iter()
        .map(|r| MessageActionItem {
            title: title(r),
            properties: Default::default(),
        })
        .collect();
    let selected = rows
        .iter()
        .find(|r| r["selected"] == true)
        .map(title)
        .unwrap_or_default();
    let answer = client
        .show_message_request(
            MessageType::INFO,
            format!("Select the builder for this workspace (now: {selected})"),
            Some(actions),
        )
        .await;
    let chosen = match answer {
        Ok(Some(item)) => rows
            .iter()
            .find(|r| title(r) == item.title)
            .and_then(|r| r["name"].as_str())
            .map(str::to_string),
        Ok(None) => None,
        Err(e) => {
            tracing::warn!("window/showMessageRequest failed: {e}");
            None
        }
    };
    match chosen {
        Some(name) => use_builder(session, client, &[Value::String(name)]).await,
        None => Ok(Some(Value::Null)),
    }
}

/// `buildkit.useBuilder ["NAME"]`: the workspace's choice, not written to
/// the store. An unknown name is an error naming the known builders.
pub async fn use_builder(
    session: &Arc<Session>,
    client: &Client,
    args: &[Value],
) -> Result<Option<Value>, LspError> {
    let name = name_arg(commands::USE_BUILDER, args)?;
    let current = find(commands::USE_BUILDER, &name).await?;
    Ok(Some(select(session, client, current).await))
}

/// Resolves a builder by name (stored builder, else docker context), or
/// an error listing every builder there is.
async fn find(command: &str, name: &str) -> Result<CurrentBuilder, LspError> {
    let env = Env::from_process();
    let wanted = name.to_string();
    let found = blocking(move || {
        let store = crate::builder::open_store(&env)?;
        let mut txn = store.txn()?;
        match selection::node_group(&txn, &env, &wanted) {
            Ok(g) => Ok(Ok(g)),
            Err(BuilderError::NotFound(_)) => {
                let all = selection::all_builders(&mut txn, &env)?;
                Ok(Err(all.into_iter().map(|g| g.name).collect::<Vec<_>>()))
            }
            Err(e) => Err(e),
        }
    })
    .await?;
    match found {
        Ok(group) => Ok(CurrentBuilder::from_group(group)),
        Err(names) => Err(bad_args(
            command,
            &format!(
                "no builder {name:?} found; the builders are: {}",
                names.join(", ")
            ),
        )),
    }
}

/// Makes `current` the workspace's builder and tells everyone.
async fn select(session: &Arc<Session>, client: &Client, current: CurrentBuilder) -> Value {
    let result = json!({"name": current.name, "driver": current.driver});
    session.state().builders.chosen = Some(current.name.clone());
    tracing::info!("workspace builder: {} ({})", current.name, current.driver);
    watch::selection_changed(session, client, current).await;
    result
}

/// `buildkit.useBuilderGlobally ["NAME"]`: `docker buildx use NAME`, then
/// selects it for the workspace too.
pub async fn use_builder_globally(
    session: &Arc<Session>,
    client: &Client,
    args: &[Value],
) -> Result<Option<Value>, LspError> {
    let name = name_arg(commands::USE_BUILDER_GLOBALLY, args)?;
    let current = find(commands::USE_BUILDER_GLOBALLY, &name).await?;
    let env = Env::from_process();
    let stored = current.name.clone();
    blocking(move || {
        let store = crate::builder::open_store(&env)?;
        let mut txn = store.txn()?;
        manage::use_builder(&mut txn, &env, &stored, false, false)
    })
    .await?;
    Ok(Some(select(session, client, current).await))
}

/// `buildkit.createBuilder [{"name"?, "driverOpts"?, "use"?}]`: a
/// docker-container builder on the current docker endpoint, bootstrapped
/// with progress. `use: true` selects it for the workspace (the store's
/// current builder is left alone, as everywhere in the editor).
pub async fn create_builder(
    session: &Arc<Session>,
    client: &Client,
    args: &[Value],
) -> Result<Option<Value>, LspError> {
    let command = commands::CREATE_BUILDER;
    let spec = match args.first() {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(o)) => o.clone(),
        Some(_) => {
            return Err(bad_args(
                command,
                "expected [{\"name\"?: string, \"driverOpts\"?: {key: value}, \"use\"?: bool}]",
            ))
        }
    };
    let name = match spec.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(n)) => Some(n.clone()),
        Some(_) => return Err(bad_args(command, "\"name\" must be a string")),
    };
    let mut driver_opts = Vec::new();
    match spec.get("driverOpts") {
        None | Some(Value::Null) => {}
        Some(Value::Object(o)) => {
            let sorted: BTreeMap<&String, &Value> = o.iter().collect();
            for (k, v) in sorted {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Bool(_) | Value::Number(_) => v.to_string(),
                    _ => {
                        return Err(bad_args(
                            command,
                            &format!("driverOpts.{k} must be a string"),
                        ))
                    }
                };
                driver_opts.push(format!("{k}={v}"));
            }
        }
        Some(_) => return Err(bad_args(command, "\"driverOpts\" must be an object")),
    }
    let select_it = spec.get("use").and_then(Value::as_bool).unwrap_or(false);
    let options = CreateOptions {
        name,
        driver: Some("docker-container".to_string()),
        driver_opts,
        ..CreateOptions::default()
    };
    let env = Env::from_process();
    let group = blocking(move || {
        let store = crate::builder::open_store(&env)?;
        let mut txn = store.txn()?;
        manage::create(&mut txn, &env, &options)
    })
    .await?;
    tracing::info!("created builder {}", group.name);
    refresh_known(session).await;
    bootstrap_with_progress(session, client, &group).await?;
    if select_it {
        select(session, client, CurrentBuilder::from_group(group.clone())).await;
    } else {
        notify_lenses(session, client);
    }
    Ok(Some(
        json!({"name": group.name, "driver": "docker-container"}),
    ))
}

/// `buildkit.bootstrapBuilder ["NAME"] | []`.
pub async fn bootstrap_builder(
    session: &Arc<Session>,
    client: &Client,
    args: &[Value],
) -> Result<Option<Value>, LspError> {
    let name = name_or_selected(session, commands::BOOTSTRAP_BUILDER, args).await?;
    let group = find(commands::BOOTSTRAP_BUILDER, &name).await?.group;
    bootstrap_with_progress(session, client, &group).await?;
    let st = status_after(session, &group).await;
    Ok(Some(json!({"name": group.name, "status": st.status})))
}

/// `buildkit.stopBuilder ["NAME"] | []`.
pub async fn stop_builder(
    session: &Arc<Session>,
    client: &Client,
    args: &[Value],
) -> Result<Option<Value>, LspError> {
    let name = name_or_selected(session, commands::STOP_BUILDER, args).await?;
    let group = find(commands::STOP_BUILDER, &name).await?.group;
    let work = begin_work(session, client, format!("Stopping builder {}", group.name)).await;
    let result = status::stop(&group).await;
    work.end(match &result {
        Ok(()) => "stopped".to_string(),
        Err(e) => format!("failed: {e}"),
    })
    .await;
    result?;
    let st = status_after(session, &group).await;
    Ok(Some(json!({"name": group.name, "status": st.status})))
}

/// `buildkit.removeBuilder ["NAME"] | []`: tears the daemon down (as
/// `buildx rm`), then removes the builder from the store. Removing the
/// workspace's builder falls back to buildx's choice.
pub async fn remove_builder(
    session: &Arc<Session>,
    client: &Client,
    args: &[Value],
) -> Result<Option<Value>, LspError> {
    let name = name_or_selected(session, commands::REMOVE_BUILDER, args).await?;
    let group = find(commands::REMOVE_BUILDER, &name).await?.group;
    if group.docker_context {
        return Err(LspError::Builder(BuilderError::Invalid(format!(
            "context builder cannot be removed, run `docker context rm {}` to remove this context",
            group.name
        ))));
    }
    let work = begin_work(session, client, format!("Removing builder {}", group.name)).await;
    let torn_down = status::teardown(&group, false).await;
    let removed = match torn_down {
        Ok(()) => {
            let env = Env::from_process();
            let name = group.name.clone();
            blocking(move || {
                let store = crate::builder::open_store(&env)?;
                let mut txn = store.txn()?;
                manage::remove(&mut txn, &env, &name).map(|_| ())
            })
            .await
        }
        Err(e) => Err(LspError::Builder(e)),
    };
    work.end(match &removed {
        Ok(()) => "removed".to_string(),
        Err(e) => format!("failed: {e}"),
    })
    .await;
    removed?;
    let was_selected = {
        let mut state = session.state();
        let b = &mut state.builders;
        b.statuses.remove(&group.name);
        b.known.retain(|k| !same_name(&k.name, &group.name));
        let selected = b
            .current
            .as_ref()
            .is_some_and(|c| same_name(&c.name, &group.name));
        if b.chosen
            .as_deref()
            .is_some_and(|c| same_name(c, &group.name))
        {
            b.chosen = None;
        }
        selected
    };
    if was_selected {
        session.state().builders.current = None;
        let fallback = super::current(session).await?;
        watch::selection_changed(session, client, fallback).await;
    } else {
        notify_lenses(session, client);
    }
    Ok(Some(json!({"name": group.name, "status": "removed"})))
}

/// `buildkit.enableLoad []`: builds from settings load their image into
/// Docker from now on; the result is the setting for the client to keep.
pub fn enable_load(session: &Arc<Session>, client: &Client) -> Result<Option<Value>, LspError> {
    {
        let mut state = session.state();
        state.builders.load_override = true;
        state.settings_epoch += 1;
    }
    session.report_stale(Stale::All);
    notify_lenses(session, client);
    Ok(Some(
        json!({"setting": "buildkit.build.load", "value": true}),
    ))
}

/// Starts a builder's nodes with work-done progress (docker-container and
/// kubernetes: the driver's own steps as messages).
async fn bootstrap_with_progress(
    session: &Arc<Session>,
    client: &Client,
    group: &NodeGroup,
) -> Result<(), LspError> {
    let work = begin_work(
        session,
        client,
        format!("Starting builder {} ({})", group.name, driver_kind(group)),
    )
    .await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut progress = move |node: &str, step: &str| {
        let _ = tx.send(format!("[{node}] {step}"));
    };
    let run = status::bootstrap(group, &mut progress);
    let run = async {
        match tokio::time::timeout(BOOTSTRAP_TIMEOUT, run).await {
            Ok(r) => r,
            Err(_) => Err(BuilderError::Node {
                builder: group.name.clone(),
                detail: format!("did not start within {} s", BOOTSTRAP_TIMEOUT.as_secs()),
            }),
        }
    };
    tokio::pin!(run);
    // Forward the driver's steps while it works.
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            Some(step) = rx.recv() => work.report(step, 0).await,
        }
    };
    work.end(match &result {
        Ok(()) => "running".to_string(),
        Err(e) => format!("failed: {e}"),
    })
    .await;
    result?;
    status_after(session, group).await;
    if super::cached(session).is_some_and(|c| same_name(&c.name, &group.name)) {
        watch::wake(session);
    }
    Ok(())
}

/// Probes a builder after a command changed it and caches the status.
async fn status_after(session: &Session, group: &NodeGroup) -> KnownStatus {
    let (st, _) = probe(group).await;
    session
        .state()
        .builders
        .statuses
        .insert(group.name.clone(), st.clone());
    st
}

async fn refresh_known(session: &Session) {
    let env = Env::from_process();
    if let Ok((groups, _)) = blocking(move || read_store(&env)).await {
        session.state().builders.known = known(&groups);
    }
}

/// The builder list changed: lenses and quick fixes may read differently.
fn notify_lenses(session: &Arc<Session>, client: &Client) {
    if session.state().features.code_lens_refresh {
        refresh_lenses(client);
    }
}

static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Progress of a builder operation: steps as messages, no percentage, not
/// cancellable.
async fn begin_work(session: &Session, client: &Client, title: String) -> WorkProgress {
    let token = format!(
        "buildkit-builder-{}",
        NEXT_TOKEN.fetch_add(1, Ordering::Relaxed)
    );
    WorkProgress::begin(session, client, token, title, false, false).await
}
