//! One build, start to finish, for every front end (the CLI's `build`, the
//! editor's `buildkit.build`): the builder by name or the docker engine's
//! own, its driver from the driver's factory, the `default-load` feature,
//! the refusal of what the driver cannot do (before any connection when
//! that is already known), buildx's no-output warning, the solve, and
//! `--push` through the engine for drivers whose images land there.
//!
//! Cancellation: cancelling the token drops the build future, which resets
//! the `Solve` and `Status` streams and closes the session; BuildKit then
//! cancels the job and kills its processes (measured in docs/lsp-builds.md).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{BuilderError, Env, NodeGroup};
use crate::build::BuildSpec;
use crate::buildkit::attachables::AuthService;
use crate::buildkit::filesync::TransferStats;
use crate::buildkit::{BuildOutcome, BuildkitError, Client, ProgressEvent};
use crate::driver::{Driver, DriverError, DriverKind, Features};
use crate::insight::{Observation, SentFile, VertexRecord};

/// Name of the docker engine's own builder, as `buildx ls` shows it.
pub const DEFAULT_BUILDER: &str = "default";

/// What happens during a run, in order, for a front end to show.
#[derive(Debug, Clone, PartialEq)]
pub enum RunEvent {
    /// The builder and its driver are known; the build is about to start.
    Started { builder: String, driver: String },
    /// A warning before the build (buildx's no-output warning).
    Warning(String),
    /// BuildKit's progress.
    Progress(ProgressEvent),
    /// A tag is being pushed through the engine (docker driver).
    Pushing(String),
    /// The build ended (built or failed, not cancelled): each instruction's
    /// result and why the steps that ran missed the cache.
    Insight(Box<super::insight::BuildInsight>),
}

/// What a successful build produced.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildReport {
    pub builder: String,
    pub driver: String,
    /// The image's id (its config digest) when the exporter names one.
    pub image_id: Option<String>,
    /// The exporter's `containerimage.digest` (the image id with the docker
    /// driver, the manifest digest with the others).
    pub digest: Option<String>,
    /// The image names the build was tagged with.
    pub tags: Vec<String>,
    pub duration: Duration,
    /// Steps BuildKit answered from its cache.
    pub cached_steps: usize,
    /// Every step (vertex) BuildKit reported.
    pub total_steps: usize,
    /// Warnings shown before the build.
    pub warnings: Vec<String>,
    /// The engine's `Loaded image: …` lines of a load through a non-docker
    /// driver.
    pub loaded: Vec<String>,
}

/// The builder `run` builds with for a name (`None`, empty or `default`:
/// the docker engine of the environment, no store needed), for front ends
/// that have a name only (the CLI's `--builder`).
pub fn resolve(name: Option<&str>) -> Result<NodeGroup, BuilderError> {
    let name = name.filter(|b| !b.is_empty()).unwrap_or(DEFAULT_BUILDER);
    if name == DEFAULT_BUILDER {
        return Ok(super::selection::context_group(DEFAULT_BUILDER));
    }
    let env = Env::from_process();
    let store = super::open_store(&env)?;
    let txn = store.txn()?;
    super::selection::node_group(&txn, &env, name)
}

/// Runs `spec` with the already-resolved builder `builder`, sending events
/// to `events` (a closed receiver is fine). Cancelling `cancel` stops the
/// build on the daemon and returns
/// `BuilderError::Build(BuildkitError::Cancelled)`.
pub async fn run(
    spec: BuildSpec,
    builder: &NodeGroup,
    events: mpsc::UnboundedSender<RunEvent>,
    cancel: CancellationToken,
) -> Result<BuildReport, BuilderError> {
    let started = Instant::now();
    let work = run_uncancelled(spec, builder, &events, started);
    tokio::select! {
        // Checked first, so a build cancelled before it starts never starts.
        biased;
        _ = cancel.cancelled() => Err(BuilderError::Build(BuildkitError::Cancelled)),
        r = work => r,
    }
}

async fn run_uncancelled(
    mut spec: BuildSpec,
    ng: &NodeGroup,
    events: &mpsc::UnboundedSender<RunEvent>,
    started: Instant,
) -> Result<BuildReport, BuilderError> {
    let name = ng.name.as_str();
    let driver = match super::status::build_driver(ng, Some(&spec.context)).await {
        Ok(d) => d,
        Err(e) => {
            // What the driver kind refuses without asking its daemon stays
            // the answer when the daemon cannot be reached.
            let kind = DriverKind::from_name(super::status::driver_kind(ng));
            if let Some(r) = kind.and_then(|k| spec.check(&Features::of(k)).err()) {
                return Err(BuilderError::Invalid(r.to_string()));
            }
            return Err(e);
        }
    };
    let features = driver.features();
    apply_default_load(&mut spec, &features);
    spec.check(&features)
        .map_err(|r| BuilderError::Invalid(r.to_string()))?;
    let mut warnings = Vec::new();
    if let Some(w) = spec.no_output_warning(&features) {
        let _ = events.send(RunEvent::Warning(w.clone()));
        warnings.push(w);
    }
    let _ = events.send(RunEvent::Started {
        builder: name.to_string(),
        driver: features.kind.name().to_string(),
    });
    build_with(driver, spec, events, started, name, warnings).await
}

/// buildx's `DefaultLoad` feature (the driver-opt `default-load`, read by
/// the driver's factory with Go's bool syntax): a build without output (and
/// without --push, an output in buildx) loads.
fn apply_default_load(spec: &mut BuildSpec, features: &Features) {
    if spec.outputs.is_empty() && !spec.push && features.default_load {
        spec.load = true;
    }
}

/// Counts steps as BuildKit reports them, and keeps each vertex's last
/// state for the build insight.
#[derive(Debug, Default)]
struct StepCount {
    seen: HashSet<String>,
    cached: HashSet<String>,
    /// In the order first reported.
    order: Vec<String>,
    vertices: HashMap<String, VertexRecord>,
}

impl StepCount {
    fn observe(&mut self, ev: &ProgressEvent) {
        if let ProgressEvent::Vertex(v) = ev {
            if self.seen.insert(v.digest.clone()) {
                self.order.push(v.digest.clone());
            }
            if v.cached {
                self.cached.insert(v.digest.clone());
            }
            let r = self.vertices.entry(v.digest.clone()).or_default();
            if r.name.is_empty() {
                r.name = v.name.clone();
            }
            r.cached |= v.cached;
            if let Some(d) = v.duration() {
                r.duration = Some(d);
            }
            if v.error.is_some() {
                r.error = v.error.clone();
            }
        }
    }

    fn records(&mut self) -> Vec<VertexRecord> {
        self.order
            .iter()
            .filter_map(|d| self.vertices.remove(d))
            .collect()
    }
}

/// Runs the build through `driver`. `--load` through a driver whose images
/// do not land in the engine loads into the local engine; `--push` through
/// one whose images do goes through that engine.
async fn build_with(
    driver: Arc<dyn Driver>,
    spec: BuildSpec,
    events: &mpsc::UnboundedSender<RunEvent>,
    started: Instant,
    builder: &str,
    warnings: Vec<String>,
) -> Result<BuildReport, BuilderError> {
    let features = driver.features();
    let driver_name = features.kind.name().to_string();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut steps = StepCount::default();
    let transfer = Arc::new(TransferStats::default());
    let build = async {
        let load_engine = if spec.load && !features.loads_into_engine() {
            bollard::Docker::connect_with_defaults().ok()
        } else {
            None
        };
        let client = Client::connect(driver.clone()).await?;
        client
            .build_counted(&spec, tx, load_engine.as_ref(), transfer.clone())
            .await
    };
    tokio::pin!(build);
    let forward = |ev: ProgressEvent, steps: &mut StepCount| {
        steps.observe(&ev);
        let _ = events.send(RunEvent::Progress(ev));
    };
    let result: Result<BuildOutcome, BuildkitError> = loop {
        tokio::select! {
            r = &mut build => break r,
            Some(ev) = rx.recv() => forward(ev, &mut steps),
        }
    };
    // Events the build sent just before it returned.
    while let Ok(ev) = rx.try_recv() {
        forward(ev, &mut steps);
    }
    if reached_the_solve(&result) && super::insight::enabled() {
        let insight = record_insight(&spec, builder, &mut steps, &transfer, started, &result).await;
        let _ = events.send(RunEvent::Insight(Box::new(insight)));
    }
    let outcome = result?;
    if features.loads_into_engine() {
        // The engine's BuildKit does not push from `moby`: push through the
        // Engine API like `docker push`.
        push_all(&*driver, &spec.push_refs(), events).await?;
    }
    let response = &outcome.exporter_response;
    let digest = response.get("containerimage.digest").cloned();
    Ok(BuildReport {
        builder: builder.to_string(),
        driver: driver_name,
        image_id: image_id(
            response,
            features.loads_into_engine() && features.containerd_store,
        )
        .or_else(|| digest.clone()),
        digest,
        tags: spec.tags.clone(),
        duration: started.elapsed(),
        cached_steps: steps.cached.len(),
        total_steps: steps.seen.len(),
        warnings,
        loaded: outcome.loaded,
    })
}

/// Whether BuildKit ran the solve, so there are steps to explain (not a
/// connection or session that failed before it).
fn reached_the_solve(result: &Result<BuildOutcome, BuildkitError>) -> bool {
    matches!(result, Ok(_) | Err(BuildkitError::Solve(_)))
}

/// Explains the build against the key's previous one and remembers it
/// (`builder::insight`), off the runtime's threads.
async fn record_insight(
    spec: &BuildSpec,
    builder: &str,
    steps: &mut StepCount,
    transfer: &TransferStats,
    started: Instant,
    result: &Result<BuildOutcome, BuildkitError>,
) -> super::insight::BuildInsight {
    let path =
        std::path::absolute(spec.dockerfile_path()).unwrap_or_else(|_| spec.dockerfile_path());
    let obs = Observation {
        dockerfile: tokio::fs::read_to_string(&path).await.unwrap_or_default(),
        build_args: spec.build_args.clone(),
        no_cache: spec.no_cache,
        vertices: steps.records(),
        sent: transfer
            .sent_files()
            .into_iter()
            .filter(|f| f.dir == "context")
            .map(|f| SentFile {
                path: f.path,
                bytes: f.bytes,
                // 64 bits tell a changed file from an unchanged one, and
                // keep the store small.
                digest: f.digest.chars().take(16).collect(),
            })
            .collect(),
        duration: started.elapsed(),
        ok: result.is_ok(),
    };
    let key = super::insight::Key {
        builder: builder.to_string(),
        dockerfile: path,
        target: spec.target.clone(),
    };
    let ended = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let dir = super::insight::state_dir();
    let task = tokio::task::spawn_blocking(move || match dir {
        Some(dir) => super::insight::record(&dir, key, &obs, ended),
        None => {
            let (explained, _) = crate::insight::explain(&obs, None, ended);
            super::insight::BuildInsight {
                key,
                builds: vec![explained],
            }
        }
    });
    task.await.unwrap_or_else(|e| {
        tracing::warn!("build insight: {e}");
        super::insight::BuildInsight {
            key: super::insight::Key {
                builder: builder.to_string(),
                dockerfile: spec.dockerfile_path(),
                target: spec.target.clone(),
            },
            builds: Vec::new(),
        }
    })
}

/// The image's id as the engine it lands in names it. The containerd image
/// store names an image by its manifest (`containerimage.digest`: what
/// `docker image inspect` and buildx's `--iidfile` show on Engine 26 with
/// that store); everywhere else the id is the config digest, when the
/// exporter reports one.
fn image_id(response: &HashMap<String, String>, by_manifest: bool) -> Option<String> {
    let key = match by_manifest {
        true => "containerimage.digest",
        false => "containerimage.config.digest",
    };
    response.get(key).cloned()
}

async fn push_all(
    engine: &dyn Driver,
    refs: &[String],
    events: &mpsc::UnboundedSender<RunEvent>,
) -> Result<(), BuilderError> {
    let auth = AuthService::new(crate::driver::docker::docker_config_dir());
    for tag in refs {
        let host = crate::driver::docker::registry_host(tag);
        let creds = auth.lookup(host).await.map_err(|e| {
            BuildkitError::Driver(DriverError::Push {
                endpoint: engine.endpoint(),
                reference: tag.clone(),
                detail: format!("credentials for {host}: {e}"),
            })
        })?;
        let _ = events.send(RunEvent::Pushing(tag.clone()));
        engine.push(tag, creds).await.map_err(BuildkitError::from)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildkit::progress::VertexEvent;

    fn vertex(digest: &str, cached: bool) -> ProgressEvent {
        ProgressEvent::Vertex(VertexEvent {
            digest: digest.into(),
            name: format!("step {digest}"),
            cached,
            started: None,
            completed: None,
            error: None,
        })
    }

    #[test]
    fn steps_count_each_vertex_once_and_cached_ones_apart() {
        let mut steps = StepCount::default();
        for ev in [
            vertex("a", false),
            vertex("a", false),
            vertex("b", true),
            vertex("c", false),
            vertex("b", true),
        ] {
            steps.observe(&ev);
        }
        assert_eq!((steps.seen.len(), steps.cached.len()), (3, 1));
    }

    #[test]
    fn image_id_is_the_config_digest_or_on_the_containerd_store_the_manifest() {
        let mut r = HashMap::new();
        r.insert("containerimage.digest".to_string(), "sha256:m".to_string());
        assert_eq!(image_id(&r, false), None);
        r.insert(
            "containerimage.config.digest".to_string(),
            "sha256:c".to_string(),
        );
        assert_eq!(image_id(&r, false).as_deref(), Some("sha256:c"));
        assert_eq!(image_id(&r, true).as_deref(), Some("sha256:m"));
    }

    /// `default-load=t` is true for the driver's factory, and so for the
    /// build: the build path once read only `true`/`1`.
    #[tokio::test]
    async fn default_load_t_loads_a_build_without_output() {
        let factory = crate::driver::factory("remote").unwrap();
        for (value, loads) in [("t", true), ("TRUE", true), ("1", true), ("F", false)] {
            let cfg = crate::driver::InitConfig {
                endpoint: "tcp://127.0.0.1:1".into(),
                driver_opts: [("default-load".to_string(), value.to_string())].into(),
                ..Default::default()
            };
            let features = factory.new_driver(&cfg).await.unwrap().features();
            let mut spec = BuildSpec::new("/ctx");
            apply_default_load(&mut spec, &features);
            assert_eq!(spec.load, loads, "default-load={value}");
            // an output of its own wins
            let mut spec = BuildSpec::new("/ctx");
            spec.push = true;
            apply_default_load(&mut spec, &features);
            assert!(!spec.load);
        }
    }

    #[tokio::test]
    async fn a_run_cancelled_before_it_starts_sends_nothing() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        cancel.cancel();
        let default = resolve(None).unwrap();
        let r = run(BuildSpec::new("/nonexistent"), &default, tx, cancel).await;
        assert!(
            matches!(r, Err(BuilderError::Build(BuildkitError::Cancelled))),
            "{r:?}"
        );
        assert_eq!(rx.recv().await, None);
    }
}
