//! Builds started from the editor: the `buildkit.build` and
//! `buildkit.cancelBuild` commands, work-done progress, the build log
//! (`buildkit/buildLog` + `window/logMessage`), the result message,
//! failed-step diagnostics and build on save.
//!
//! Each build runs on its own task through `builder::run`, so the server keeps
//! answering while it runs. At most one build runs per (document, target): a
//! new one cancels the running one; different targets build side by side.

mod tracker;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ls_types::notification::Notification;
use ls_types::{MessageType, NumberOrString, Uri};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tower_lsp_server::Client;

use crate::build::BuildSpec;
use crate::builder::run::{BuildReport, RunEvent};
use crate::builder::BuilderError;
use crate::buildkit::BuildkitError;
use crate::lsp::error::LspError;
use crate::lsp::progress::WorkProgress;
use crate::lsp::session::Session;
use crate::lsp::session::Stale;

use crate::lsp::session::builds::Running;
use crate::lsp::session::failures::Failure;
use tracker::Tracker;

/// Time between two batches of log text and two progress reports (so at most
/// 10 reports per second however fast BuildKit reports).
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Delay from a save to the build it starts; a newer save restarts it.
const SAVE_DEBOUNCE: Duration = Duration::from_millis(300);

/// The `buildkit/buildLog` notification.
pub enum BuildLog {}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildLogParams {
    pub build_id: String,
    pub uri: String,
    pub target: Option<String>,
    pub builder: String,
    /// One or more complete lines, each ending in `\n`.
    pub text: String,
}

impl Notification for BuildLog {
    type Params = BuildLogParams;
    const METHOD: &'static str = "buildkit/buildLog";
}

/// The arguments of `buildkit.build`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BuildArgs {
    uri: Uri,
    #[serde(default)]
    target: Option<String>,
    /// A bake target, or a Compose service (the target buildx makes of it).
    #[serde(default, alias = "service")]
    bake_target: Option<String>,
}

/// The arguments of `buildkit.cancelBuild`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CancelArgs {
    #[serde(default)]
    uri: Option<Uri>,
    /// Present (even `null`): only the build of that target.
    #[serde(default, deserialize_with = "present")]
    target: Option<Option<String>>,
    #[serde(default)]
    build_id: Option<String>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn one_arg<T: serde::de::DeserializeOwned>(
    command: &str,
    args: &[Value],
    expected: &str,
) -> Result<T, LspError> {
    let bad = |reason: String| LspError::CommandArguments {
        command: command.to_string(),
        reason,
    };
    match args {
        [arg] => serde_json::from_value(arg.clone()).map_err(|e| bad(format!("{e}; {expected}"))),
        _ => Err(bad(format!(
            "expected one argument, got {}; {expected}",
            args.len()
        ))),
    }
}

/// What a build request names.
#[derive(Debug, Clone, PartialEq)]
enum What {
    /// The Dockerfile at the URI, optionally one stage.
    Dockerfile(Option<String>),
    /// A target of the bake file at the URI.
    BakeTarget(String),
}

/// Everything a build needs, prepared before it is spawned.
struct Job {
    id: String,
    /// The document the build was asked for (a Dockerfile or a bake file).
    uri: Uri,
    /// The stage or bake target, which with `uri` identifies the build.
    target: Option<String>,
    /// The Dockerfile built, where a failure's diagnostic goes.
    dockerfile: Option<Uri>,
    spec: BuildSpec,
    builder: String,
    driver: String,
    /// The builder as the session resolved it: the build goes to it
    /// without reading the store again.
    group: crate::builder::NodeGroup,
    cancel: CancellationToken,
}

/// `buildkit.build [{uri, target?, bakeTarget?}]`: runs the build and
/// answers when it ends.
pub async fn build_command(
    session: &Arc<Session>,
    client: &Client,
    command: &str,
    args: &[Value],
) -> Result<Value, LspError> {
    let args: BuildArgs = one_arg(
        command,
        args,
        r#"expected [{"uri": "file:///…/Dockerfile", "target"?: "stage"}]"#,
    )?;
    let what = match args.bake_target.filter(|t| !t.is_empty()) {
        Some(name) => What::BakeTarget(name),
        None => What::Dockerfile(args.target.filter(|t| !t.is_empty())),
    };
    let job = prepare(session, command, args.uri, what).await?;
    // The request may be cancelled ($/cancelRequest): then so is the build.
    let guard = job.cancel.clone().drop_guard();
    let task = tokio::spawn(drive(Arc::clone(session), client.clone(), job));
    let result = task.await;
    guard.disarm();
    result.map_err(|e| LspError::CommandArguments {
        command: command.to_string(),
        reason: format!("the build task failed: {e}"),
    })
}

/// `buildkit.cancelBuild [{uri, target?}]` or `[{buildId}]`: cancels the
/// matching running builds (all of the document's when no `target` key).
pub fn cancel_command(session: &Session, command: &str, args: &[Value]) -> Result<Value, LspError> {
    let args: CancelArgs = one_arg(
        command,
        args,
        r#"expected [{"uri": "file:///…", "target"?: "stage"}] or [{"buildId": "…"}]"#,
    )?;
    let n = match (&args.build_id, &args.uri) {
        (Some(id), _) => session.builds.cancel_where(|_, r| &r.id == id),
        (None, Some(uri)) => session.builds.cancel_where(|(u, t), _| {
            u == uri.as_str() && args.target.as_ref().is_none_or(|want| want == t)
        }),
        (None, None) => {
            return Err(LspError::CommandArguments {
                command: command.to_string(),
                reason: "expected a uri or a buildId".into(),
            })
        }
    };
    Ok(json!({ "cancelled": n }))
}

/// Cancels every running build (the workspace stopped being trusted).
pub fn cancel_all(session: &Session) -> usize {
    session.builds.cancel_where(|_, _| true)
}

/// `window/workDoneProgress/cancel`: cancels the build behind the token.
pub fn cancel_progress(session: &Session, token: &NumberOrString) {
    let token = token_string(token);
    let n = session
        .builds
        .cancel_where(|_, r| r.progress.as_deref() == Some(token.as_str()));
    tracing::debug!("progress {token} cancelled: {n} build(s)");
}

fn token_string(token: &NumberOrString) -> String {
    match token {
        NumberOrString::String(s) => s.clone(),
        NumberOrString::Number(n) => n.to_string(),
    }
}

/// `textDocument/didSave`: with `buildkit.buildOnSave`, builds the
/// document's last-used target after the debounce; a save during the
/// debounce restarts it, and the build cancels a running one of that target.
pub fn on_save(session: &Arc<Session>, client: &Client, uri: Uri) {
    let eligible = {
        let state = session.state();
        state.settings().build_on_save
            && state
                .documents
                .get(uri.as_str())
                .is_some_and(|d| is_dockerfile(&uri, d.language_id()))
    };
    if !eligible {
        return;
    }
    let seq = {
        let mut inner = session.builds.inner();
        let n = inner.saves.entry(uri.as_str().to_string()).or_default();
        *n += 1;
        *n
    };
    let session = Arc::clone(session);
    let client = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(SAVE_DEBOUNCE).await;
        let target = {
            let inner = session.builds.inner();
            if inner.saves.get(uri.as_str()) != Some(&seq) {
                return; // a newer save owns the build
            }
            inner.last_target.get(uri.as_str()).cloned().flatten()
        };
        match prepare(&session, "buildOnSave", uri, What::Dockerfile(target)).await {
            Ok(job) => {
                drive(session, client, job).await;
            }
            Err(e) => {
                tracing::warn!("build on save: {e}");
                client
                    .show_message(MessageType::ERROR, format!("Build on save: {e}"))
                    .await;
            }
        }
    });
}

fn is_dockerfile(uri: &Uri, language_id: &str) -> bool {
    let name = uri.path().as_str().rsplit('/').next().unwrap_or_default();
    language_id == "dockerfile" && !name.starts_with("docker-bake")
}

/// Resolves the build configuration and the builder, and registers the
/// build (cancelling a running build of the same document and target).
async fn prepare(
    session: &Arc<Session>,
    command: &str,
    uri: Uri,
    what: What,
) -> Result<Job, LspError> {
    let bad = |reason: String| LspError::CommandArguments {
        command: command.to_string(),
        reason,
    };
    let path = uri
        .to_file_path()
        .map(|p| p.into_owned())
        .ok_or_else(|| bad(format!("{} is not a file: URI", uri.as_str())))?;
    let (spec, target) = configure(session, &uri, &path, &what).await.map_err(bad)?;
    let dockerfile = match what {
        // The configured builds of a Dockerfile all build that document.
        What::Dockerfile(_) => Some(uri.clone()),
        What::BakeTarget(_) => std::path::absolute(spec.dockerfile_path())
            .ok()
            .and_then(Uri::from_file_path),
    };
    let current = crate::lsp::builds::selection::current(session).await?;
    let n = session.builds.next_id.fetch_add(1, Ordering::Relaxed) + 1;
    let id = format!("build-{}-{n}", std::process::id());
    let cancel = CancellationToken::new();
    {
        let mut inner = session.builds.inner();
        let key = (uri.as_str().to_string(), target.clone());
        let replaced = inner.running.insert(
            key,
            Running {
                id: id.clone(),
                cancel: cancel.clone(),
                progress: None,
            },
        );
        if let Some(old) = replaced {
            tracing::info!("build {} replaced by {id}: cancelled", old.id);
            old.cancel.cancel();
        }
        if let What::Dockerfile(stage) = &what {
            inner
                .last_target
                .insert(uri.as_str().to_string(), stage.clone());
        }
    }
    Ok(Job {
        id,
        uri,
        target,
        dockerfile,
        spec,
        builder: current.name,
        driver: current.driver,
        group: current.group,
        cancel,
    })
}

/// The bake and Compose files of `folder` that exist, and its `.env`
/// (builds run in a trusted workspace only), read without blocking the
/// runtime (`build/` parses text and does no I/O).
async fn read_bake_folder(
    folder: &Path,
) -> Result<Vec<crate::build::bake::BakeSource>, crate::build::Error> {
    let mut sources = Vec::new();
    let mut paths = crate::build::files::definition_file_paths(folder);
    paths.push(crate::build::files::dotenv_path(folder));
    for path in paths {
        match tokio::fs::read_to_string(&path).await {
            Ok(text) => sources.push(crate::build::bake::BakeSource { path, text }),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::IsADirectory
                ) => {}
            Err(e) => return Err(crate::build::Error::unreadable(&path, e)),
        }
    }
    Ok(sources)
}

/// The spec of a request and the target that names the build: a bake
/// target's own configuration; for a Dockerfile, the configured build of
/// that stage (bake file of the workspace folder > `buildkit.build.*` >
/// defaults), with the stage asked for.
async fn configure(
    session: &Session,
    uri: &Uri,
    path: &Path,
    what: &What,
) -> Result<(BuildSpec, Option<String>), String> {
    use crate::build::config;
    use crate::lsp::builds::selection::findings;
    match what {
        What::BakeTarget(name) => {
            let bake = match findings::bake_for(session, path) {
                Some(b) => b,
                None => {
                    let folder = path.parent().unwrap_or(Path::new("/"));
                    let sources = read_bake_folder(folder).await.map_err(|e| e.to_string())?;
                    crate::build::files::parse(&sources, Some(&std::env::vars().collect()))
                        .map_err(|e| e.to_string())?
                }
            };
            let build = config::bake_target_spec(&bake, name).map_err(|e| e.to_string())?;
            Ok((build.spec, Some(name.clone())))
        }
        What::Dockerfile(stage) => {
            let builds = findings::configured_builds(session, uri)
                .await
                .map_err(|e| e.to_string())?;
            let chosen = builds
                .iter()
                .find(|b| b.spec.target == *stage)
                .or(builds.first())
                .map(|b| b.spec.clone());
            let mut spec = chosen.unwrap_or_else(|| spec_for(path, None));
            if stage.is_some() {
                spec.target = stage.clone();
            }
            Ok((spec, stage.clone()))
        }
    }
}

/// What to build for a Dockerfile: its folder as the context.
fn spec_for(dockerfile: &Path, target: Option<String>) -> BuildSpec {
    let folder = dockerfile
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut spec = BuildSpec::new(folder);
    spec.dockerfile = Some(dockerfile.to_path_buf());
    spec.target = target;
    spec
}

/// Sends the build's progress and log while it runs, then its result;
/// returns the `buildkit.build` result.
async fn drive(session: Arc<Session>, client: Client, job: Job) -> Value {
    let what = job.target.as_deref().unwrap_or("Dockerfile").to_string();
    let title = format!("Building {what} on {} ({})", job.builder, job.driver);
    let progress = WorkProgress::begin(
        &session,
        &client,
        format!("buildkit-{}", job.id),
        title.clone(),
        true,
        true,
    )
    .await;
    if let Some(token) = progress.token() {
        let mut inner = session.builds.inner();
        let key = (job.uri.as_str().to_string(), job.target.clone());
        if let Some(r) = inner.running.get_mut(&key).filter(|r| r.id == job.id) {
            r.progress = Some(token_string(token));
        }
    }
    tracing::info!("{}: {title}", job.id);

    let (tx, mut rx) = mpsc::unbounded_channel();
    let run = crate::builder::run::run(job.spec.clone(), &job.group, tx, job.cancel.clone());
    tokio::pin!(run);
    let mut tracker = Tracker::new();
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut driver = job.driver.clone();
    let mut insight = None;
    let result = loop {
        tokio::select! {
            r = &mut run => break r,
            Some(ev) = rx.recv() => {
                match ev {
                    RunEvent::Started { driver: ref d, .. } => driver = d.clone(),
                    RunEvent::Insight(i) => {
                        insight = Some(i);
                        continue;
                    }
                    _ => {}
                }
                tracker.observe(&ev);
            }
            _ = tick.tick() => {
                send_log(&client, &job, &mut tracker).await;
                if let Some((message, pct)) = tracker.take_report() {
                    progress.report(message, pct).await;
                }
            }
        }
    };
    while let Ok(ev) = rx.try_recv() {
        match ev {
            RunEvent::Insight(i) => insight = Some(i),
            ev => tracker.observe(&ev),
        }
    }
    if let (Some(i), Some(uri)) = (insight, &job.dockerfile) {
        session.builds.insight.record(uri, *i);
        super::insight::refresh(&session, &client);
    }
    send_log(&client, &job, &mut tracker).await;
    let outcome = Outcome::of(result);
    if outcome.report.is_some() {
        let (done, total) = tracker.counts();
        progress.report(format!("[{done}/{total}] done"), 100).await;
    }
    progress.end(outcome.end_message()).await;
    let (typ, message) = outcome.show_message(&what, &job.builder);
    client.show_message(typ, message).await;
    record_failure(&session, &job, &outcome).await;
    {
        let mut inner = session.builds.inner();
        let key = (job.uri.as_str().to_string(), job.target.clone());
        if inner.running.get(&key).is_some_and(|r| r.id == job.id) {
            inner.running.remove(&key);
        }
    }
    tracing::info!("{}: {}", job.id, outcome.end_message());
    outcome.json(&job, &driver)
}

/// Sends the log text gathered since the last batch, both as
/// `buildkit/buildLog` and as `window/logMessage`.
async fn send_log(client: &Client, job: &Job, tracker: &mut Tracker) {
    let Some(text) = tracker.take_log() else {
        return;
    };
    client
        .send_notification::<BuildLog>(BuildLogParams {
            build_id: job.id.clone(),
            uri: job.uri.as_str().to_string(),
            target: job.target.clone(),
            builder: job.builder.clone(),
            text: text.clone(),
        })
        .await;
    client
        .log_message(MessageType::LOG, text.trim_end_matches('\n'))
        .await;
}

/// A finished build, as the editor is told about it.
struct Outcome {
    report: Option<BuildReport>,
    error: Option<BuilderError>,
}

impl Outcome {
    fn of(result: Result<BuildReport, BuilderError>) -> Outcome {
        match result {
            Ok(r) => Outcome {
                report: Some(r),
                error: None,
            },
            Err(e) => Outcome {
                report: None,
                error: Some(e),
            },
        }
    }

    fn cancelled(&self) -> bool {
        matches!(
            self.error,
            Some(BuilderError::Build(BuildkitError::Cancelled))
        )
    }

    fn error_text(&self) -> Option<String> {
        self.error.as_ref().map(|e| e.to_string())
    }

    fn end_message(&self) -> String {
        match (&self.report, self.cancelled()) {
            (Some(r), _) => format!(
                "done in {:.1} s ({} cached)",
                r.duration.as_secs_f64(),
                r.cached_steps
            ),
            (None, true) => "cancelled".to_string(),
            (None, false) => format!(
                "failed: {}",
                self.error_text()
                    .unwrap_or_default()
                    .lines()
                    .next()
                    .unwrap_or_default()
            ),
        }
    }

    fn show_message(&self, what: &str, builder: &str) -> (MessageType, String) {
        match (&self.report, self.cancelled()) {
            (Some(r), _) => {
                let image = r
                    .image_id
                    .as_deref()
                    .or(r.digest.as_deref())
                    .unwrap_or("no image");
                let tags = if r.tags.is_empty() {
                    String::new()
                } else {
                    format!(", tagged {}", r.tags.join(", "))
                };
                (
                    MessageType::INFO,
                    format!(
                        "Built {what} on {builder} in {:.1} s: {image}{tags} ({} of {} steps cached)",
                        r.duration.as_secs_f64(),
                        r.cached_steps,
                        r.total_steps
                    ),
                )
            }
            (None, true) => (
                MessageType::INFO,
                format!("Build of {what} on {builder} cancelled"),
            ),
            (None, false) => (
                MessageType::ERROR,
                format!(
                    "Build of {what} on {builder} failed: {}",
                    self.error_text().unwrap_or_default()
                ),
            ),
        }
    }

    fn json(&self, job: &Job, driver: &str) -> Value {
        let r = self.report.as_ref();
        json!({
            "ok": r.is_some(),
            "buildId": job.id,
            "target": job.target,
            "builder": job.builder,
            "driver": driver,
            "imageId": r.and_then(|r| r.image_id.clone()),
            "digest": r.and_then(|r| r.digest.clone()),
            "tags": r.map(|r| r.tags.clone()).unwrap_or_else(|| job.spec.tags.clone()),
            "durationMs": r.map(|r| r.duration.as_millis() as u64).unwrap_or(0),
            "cachedSteps": r.map(|r| r.cached_steps).unwrap_or(0),
            "totalSteps": r.map(|r| r.total_steps).unwrap_or(0),
            "error": self.error_text(),
            "cancelled": self.cancelled(),
        })
    }
}

/// Keeps the failure's diagnostic, or clears the target's after a success,
/// and re-publishes the document's diagnostics when they changed.
async fn record_failure(session: &Arc<Session>, job: &Job, outcome: &Outcome) {
    let Some(dockerfile) = &job.dockerfile else {
        return;
    };
    let uri = dockerfile.as_str().to_string();
    let changed = match (&outcome.report, &outcome.error) {
        (Some(_), _) => {
            let mut inner = session.builds.inner();
            let list = inner.failures.entry(uri.clone()).or_default();
            let before = list.len();
            list.retain(|f| f.target != job.target);
            before != list.len()
        }
        (None, Some(BuilderError::Build(BuildkitError::Solve(f)))) => {
            let Some(doc) = session.document(dockerfile) else {
                return;
            };
            // BuildKit's lines are those of the file it built (the saved
            // file, maybe older than the editor's text): take the
            // instruction from there and find it in the editor's text.
            let built = match f.source.as_ref().filter(|s| !s.data.is_empty()) {
                Some(s) => String::from_utf8_lossy(&s.data).into_owned(),
                None => tokio::fs::read_to_string(job.spec.dockerfile_path())
                    .await
                    .unwrap_or_default(),
            };
            let located = Failure::new(job.target.clone(), f, &built)
                .and_then(|mut failure| failure.relocate(doc.text()).then_some(failure));
            let Some(failure) = located else {
                tracing::info!("{}: the failure names no line of the document", job.id);
                return;
            };
            let mut inner = session.builds.inner();
            let list = inner.failures.entry(uri.clone()).or_default();
            list.retain(|f| f.target != job.target);
            list.push(failure);
            true
        }
        _ => false,
    };
    if changed {
        session.report_stale(Stale::Invalidated(dockerfile.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_builds_the_dockerfile_in_its_folder() {
        let spec = spec_for(Path::new("/w/app/Dockerfile.dev"), Some("test".into()));
        assert_eq!(spec.context, PathBuf::from("/w/app"));
        assert_eq!(
            spec.dockerfile.as_deref(),
            Some(Path::new("/w/app/Dockerfile.dev"))
        );
        assert_eq!(spec.target.as_deref(), Some("test"));
    }

    #[test]
    fn cancel_arguments_tell_a_missing_target_from_a_null_one() {
        let all: CancelArgs =
            serde_json::from_value(json!({"uri": "file:///w/Dockerfile"})).unwrap();
        assert_eq!(all.target, None);
        let whole: CancelArgs =
            serde_json::from_value(json!({"uri": "file:///w/Dockerfile", "target": null})).unwrap();
        assert_eq!(whole.target, Some(None));
        let id: CancelArgs = serde_json::from_value(json!({"buildId": "build-1-2"})).unwrap();
        assert_eq!(id.build_id.as_deref(), Some("build-1-2"));
    }

    #[test]
    fn bake_files_are_not_built_on_save() {
        let df: Uri = "file:///w/Dockerfile".parse().unwrap();
        let bake: Uri = "file:///w/docker-bake.hcl".parse().unwrap();
        assert!(is_dockerfile(&df, "dockerfile"));
        assert!(!is_dockerfile(&bake, "dockerfile"));
        assert!(!is_dockerfile(&df, "plaintext"));
    }
}
