//! The driver-agnostic lifecycle of a builder's nodes: each node's driver
//! comes from its kind's factory (`crate::driver::factory`; `""` = docker),
//! and status, bootstrap, stop and teardown are calls on the `Driver` trait.
//! Status asks BuildKit itself (`ListWorkers`, and `Info` where the daemon
//! has it) through the same client builds use, so "running" means a build
//! would connect.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::nodegroup::{Node, NodeGroup};
use super::platform::Platform;
use super::BuilderError;
use crate::buildkit::Client;
use crate::driver::{factory, DaemonState, Driver, DriverError, DriverKind, Features, InitConfig};

/// How long `status` waits for one node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);

/// What a driver reports for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeStatus {
    /// BuildKit answers: its version and the platforms its workers offer.
    Running {
        version: String,
        platforms: Vec<Platform>,
    },
    /// Created but not started (e.g. container stopped).
    Stopped,
    /// Not created yet (needs bootstrap).
    Inactive,
    /// The driver could not reach or inspect the node.
    Error(String),
    /// The driver is not implemented in this build.
    Unknown(String),
}

impl NodeStatus {
    /// The STATUS column, as `buildx ls` words it.
    pub fn label(&self) -> String {
        match self {
            NodeStatus::Running { .. } => "running".into(),
            NodeStatus::Stopped => "stopped".into(),
            NodeStatus::Inactive => "inactive".into(),
            NodeStatus::Error(_) => "error".into(),
            NodeStatus::Unknown(why) => format!("unknown ({why})"),
        }
    }
}

/// The driver kind of a group (`""`, a docker context's builder, is docker).
pub fn driver_kind(ng: &NodeGroup) -> &str {
    if ng.driver.is_empty() {
        DriverKind::Docker.name()
    } else {
        &ng.driver
    }
}

fn not_available(ng: &NodeGroup) -> String {
    format!("driver {} not available yet", driver_kind(ng))
}

/// What a factory needs to build the driver of `node`; `context` is the
/// build's context directory, if any.
pub fn init_config(node: &Node, context: Option<&Path>) -> InitConfig {
    InitConfig {
        name: node.name.clone(),
        endpoint: node.endpoint.clone(),
        driver_opts: node.driver_opts.clone().unwrap_or_default(),
        buildkitd_flags: node.buildkitd_flags.clone().unwrap_or_default(),
        files: node.files.clone(),
        platforms: node
            .platforms
            .iter()
            .flatten()
            .map(Platform::format)
            .collect(),
        context_path: context.map(Path::to_path_buf),
    }
}

/// The driver that reaches `node` of `ng`, for builds and status. `None`:
/// this kind is not wired in this build.
pub async fn node_driver(
    ng: &NodeGroup,
    node: &Node,
) -> Option<Result<Arc<dyn Driver>, DriverError>> {
    node_driver_for(ng, node, None).await
}

async fn node_driver_for(
    ng: &NodeGroup,
    node: &Node,
    context: Option<&Path>,
) -> Option<Result<Arc<dyn Driver>, DriverError>> {
    let factory = factory(&ng.driver)?;
    Some(factory.new_driver(&init_config(node, context)).await)
}

/// Asks BuildKit behind `driver` for its workers and version.
pub async fn query(driver: Arc<dyn Driver>) -> NodeStatus {
    let work = async {
        let client = Client::connect(driver).await.map_err(|e| e.to_string())?;
        let workers = client.list_workers().await.map_err(|e| e.to_string())?;
        let version = match client.info().await {
            Ok(Some(v)) => v.version,
            _ => String::new(),
        };
        let mut platforms: Vec<Platform> = Vec::new();
        for w in &workers {
            for p in &w.platforms {
                let p = Platform {
                    architecture: p.architecture.clone(),
                    os: p.os.clone(),
                    variant: p.variant.clone(),
                    ..Platform::default()
                };
                if !platforms.contains(&p) {
                    platforms.push(p);
                }
            }
        }
        Ok::<_, String>(NodeStatus::Running { version, platforms })
    };
    match tokio::time::timeout(STATUS_TIMEOUT, work).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => NodeStatus::Error(e),
        Err(_) => NodeStatus::Error(format!(
            "BuildKit did not answer within {} s",
            STATUS_TIMEOUT.as_secs()
        )),
    }
}

/// The status of each node of `ng`, in node order.
pub async fn status(ng: &NodeGroup) -> Vec<NodeStatus> {
    status_and_features(ng).await.0
}

/// [`status`], and the features of the first node's driver as it reported
/// them (the docker driver knows the engine's image store only once it
/// answered); `None` when no driver could be built.
pub async fn status_and_features(ng: &NodeGroup) -> (Vec<NodeStatus>, Option<Features>) {
    let mut out = Vec::with_capacity(ng.nodes.len());
    let mut features = None;
    for node in &ng.nodes {
        let st = match node_driver(ng, node).await {
            None => NodeStatus::Unknown(not_available(ng)),
            Some(Err(e)) => NodeStatus::Error(e.to_string()),
            Some(Ok(d)) => {
                features.get_or_insert_with(|| d.features());
                node_status(d).await
            }
        };
        out.push(st);
    }
    (out, features)
}

/// A node as its driver sees it, then as BuildKit answers.
async fn node_status(driver: Arc<dyn Driver>) -> NodeStatus {
    match driver.state().await {
        Ok(DaemonState::Inactive) => NodeStatus::Inactive,
        Ok(DaemonState::Stopped) => NodeStatus::Stopped,
        Ok(DaemonState::Running) => query(driver).await,
        Err(e) => NodeStatus::Error(e.to_string()),
    }
}

/// The daemons behind each node of `ng` when its driver runs several
/// (kubernetes pods; buildx shows them as the builder's nodes in `ls`):
/// `(store node, names)`; an error per node is its message. Empty when the
/// driver runs one daemon per node.
pub async fn instances(ng: &NodeGroup) -> Vec<(String, Result<Vec<String>, String>)> {
    let mut out = Vec::new();
    for node in &ng.nodes {
        let names = match node_driver(ng, node).await {
            None => return Vec::new(),
            Some(Ok(d)) => match d.instances().await {
                Ok(None) => return Vec::new(),
                Ok(Some(names)) => Ok(names),
                Err(e) => Err(e.to_string()),
            },
            Some(Err(e)) => Err(e.to_string()),
        };
        out.push((node.name.clone(), names));
    }
    out
}

/// Whether `bootstrap` can start nodes of this driver kind in this build;
/// `create --bootstrap` checks it before storing anything.
pub fn can_bootstrap(kind: &str) -> bool {
    factory(kind).is_some()
}

/// Starts the builder's nodes (`create --bootstrap`, `inspect --bootstrap`,
/// the editor's bootstrap command): each driver's bootstrap, its steps
/// reported to `progress` as (node name, step), then, where the driver
/// asks for it, a wait until BuildKit answers.
pub async fn bootstrap(
    ng: &NodeGroup,
    progress: &mut (dyn FnMut(&str, &str) + Send),
) -> Result<(), BuilderError> {
    let node_err = |detail: String| BuilderError::Node {
        builder: ng.name.clone(),
        detail,
    };
    for node in &ng.nodes {
        let mut step = |s: &str| progress(&node.name, s);
        let driver = match node_driver(ng, node).await {
            Some(d) => d.map_err(|e| node_err(e.to_string()))?,
            None => {
                return Err(BuilderError::DriverUnavailable {
                    builder: ng.name.clone(),
                    driver: driver_kind(ng).to_string(),
                    action: "bootstrap",
                })
            }
        };
        driver
            .bootstrap(&mut step)
            .await
            .map_err(|e| node_err(e.to_string()))?;
        if let Some(limit) = driver.answer_within() {
            wait_running(driver, limit).await.map_err(node_err)?;
        }
    }
    Ok(())
}

/// Retries until BuildKit answers `ListWorkers`, for at most `limit`
/// (zero: asks once, and the answer is the error).
async fn wait_running(driver: Arc<dyn Driver>, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let last = match query(driver.clone()).await {
            NodeStatus::Running { .. } => return Ok(()),
            NodeStatus::Error(e) => e,
            other => other.label(),
        };
        if limit.is_zero() {
            return Err(last);
        }
        if start.elapsed() >= limit {
            return Err(format!(
                "BuildKit at {} did not answer within {} s: {last}",
                driver.endpoint(),
                limit.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Stops the builder's nodes (`builder stop`); what that means is the
/// driver's business.
pub async fn stop(ng: &NodeGroup) -> Result<(), BuilderError> {
    if !owns_daemon(ng) {
        return Ok(());
    }
    for node in &ng.nodes {
        let d = usable_driver(ng, node, "stop", None).await?;
        d.stop().await.map_err(node_error(ng))?;
    }
    Ok(())
}

/// Removes the builder's daemons (`builder rm` without `--keep-daemon`);
/// `keep_state` keeps BuildKit's state.
pub async fn teardown(ng: &NodeGroup, keep_state: bool) -> Result<(), BuilderError> {
    if !owns_daemon(ng) {
        return Ok(());
    }
    for node in &ng.nodes {
        let d = usable_driver(ng, node, "remove the daemon of", None).await?;
        d.remove(keep_state).await.map_err(node_error(ng))?;
    }
    Ok(())
}

/// Whether `ng`'s driver runs daemons of its own (unknown kinds: yes, so
/// that stop and remove say the driver is missing).
fn owns_daemon(ng: &NodeGroup) -> bool {
    factory(&ng.driver).is_none_or(|f| f.owns_daemon())
}

/// The driver of `node`, or the builder error saying why there is none.
async fn usable_driver(
    ng: &NodeGroup,
    node: &Node,
    action: &'static str,
    context: Option<&Path>,
) -> Result<Arc<dyn Driver>, BuilderError> {
    match node_driver_for(ng, node, context).await {
        Some(d) => d.map_err(node_error(ng)),
        None => Err(BuilderError::DriverUnavailable {
            builder: ng.name.clone(),
            driver: driver_kind(ng).to_string(),
            action,
        }),
    }
}

/// The driver a build of `context` goes through: the group's first node
/// (a kubernetes builder with `loadbalance=sticky` then sends every build
/// of that context to the same pod, as buildx hashes the absolute context
/// path).
pub async fn build_driver(
    ng: &NodeGroup,
    context: Option<&Path>,
) -> Result<Arc<dyn Driver>, BuilderError> {
    let node = ng.nodes.first().ok_or_else(|| BuilderError::Node {
        builder: ng.name.clone(),
        detail: "the builder has no nodes".into(),
    })?;
    if ng.docker_context {
        // A docker context's builder is the engine itself: its error is
        // the driver's own (`Is the docker daemon running?`).
        if let Some(d) = node_driver_for(ng, node, context).await {
            return d.map_err(|e| BuilderError::Build(crate::buildkit::BuildkitError::Driver(e)));
        }
    }
    usable_driver(ng, node, "build with", context).await
}

/// Maps a driver failure on one of `ng`'s nodes to the store's error.
fn node_error<E: std::fmt::Display>(ng: &NodeGroup) -> impl Fn(E) -> BuilderError + '_ {
    move |e| BuilderError::Node {
        builder: ng.name.clone(),
        detail: e.to_string(),
    }
}
