//! The seam between the store and the drivers: what only a driver can tell
//! (is the node's BuildKit running, its version and platforms) or do
//! (bootstrap, stop, tear down), per driver kind (`NodeGroup::driver`, `""` =
//! docker). Status asks BuildKit itself (`ListWorkers`, and `Info` where the
//! daemon has it) through the same client builds use, so "running" means a
//! build would connect.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::nodegroup::{Node, NodeGroup};
use super::platform::Platform;
use super::BuilderError;
use crate::buildkit::Client;
use crate::driver::docker::{DockerDriver, DockerEndpoint};
use crate::driver::docker_container::{ContainerState, DockerContainerDriver};
use crate::driver::kubernetes::{KubernetesDriver, WorkloadState};
use crate::driver::remote::RemoteDriver;
use crate::driver::{Driver, DriverError};

/// How long `status` waits for one node.
const STATUS_TIMEOUT: Duration = Duration::from_secs(10);
/// How long `bootstrap` waits for a remote BuildKit to answer (buildx: 20 s).
const REMOTE_BOOTSTRAP: Duration = Duration::from_secs(20);

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
        "docker"
    } else {
        &ng.driver
    }
}

fn not_available(ng: &NodeGroup) -> String {
    format!("driver {} not available yet", driver_kind(ng))
}

/// The driver that reaches `node` of `ng`, for builds and status. `None`:
/// this kind is not wired in this build.
pub async fn node_driver(
    ng: &NodeGroup,
    node: &Node,
) -> Option<Result<Arc<dyn Driver>, DriverError>> {
    let opts = node.driver_opts.clone().unwrap_or_default();
    match driver_kind(ng) {
        "remote" => Some(remote_driver(node, &opts).map(|d| Arc::new(d) as Arc<dyn Driver>)),
        "docker-container" => Some(
            container_driver(node)
                .await
                .map(|d| Arc::new(d) as Arc<dyn Driver>),
        ),
        "docker" => Some(
            docker_driver(&node.endpoint)
                .await
                .map(|d| Arc::new(d) as Arc<dyn Driver>),
        ),
        "kubernetes" => Some(
            kubernetes_driver(node)
                .await
                .map(|d| Arc::new(d) as Arc<dyn Driver>),
        ),
        _ => None,
    }
}

/// The kubernetes driver of a node: the cluster from its endpoint
/// (`kubernetes:///…?kubeconfig=…` or a docker context) and the
/// environment, the workload from its options, flags, files and platforms.
pub async fn kubernetes_driver(node: &Node) -> Result<KubernetesDriver, DriverError> {
    let platforms: Vec<String> = node
        .platforms
        .iter()
        .flatten()
        .map(Platform::format)
        .collect();
    KubernetesDriver::new(
        &node.endpoint,
        &node.name,
        &node.driver_opts.clone().unwrap_or_default(),
        node.buildkitd_flags.as_deref().unwrap_or_default(),
        node.files.as_ref(),
        &platforms,
    )
    .await
}

fn remote_driver(
    node: &Node,
    opts: &BTreeMap<String, String>,
) -> Result<RemoteDriver, DriverError> {
    RemoteDriver::new(Some(node.endpoint.as_str()), opts)
}

/// The docker-container driver of a node: its container lives on the
/// engine the node's endpoint names.
pub async fn container_driver(node: &Node) -> Result<DockerContainerDriver, DriverError> {
    let engine = docker_driver(&node.endpoint).await?;
    DockerContainerDriver::new(
        engine.engine().clone(),
        &engine.endpoint(),
        &node.name,
        &node.driver_opts.clone().unwrap_or_default(),
        node.buildkitd_flags.as_deref().unwrap_or_default(),
        node.files.as_ref(),
    )
}

/// The docker driver for a node endpoint: a docker host URL, or the name of
/// a docker context (`default` = the environment's engine).
async fn docker_driver(endpoint: &str) -> Result<DockerDriver, DriverError> {
    if endpoint.contains("://") {
        return DockerDriver::connect_to(DockerEndpoint::parse(endpoint)?).await;
    }
    if endpoint.is_empty() || endpoint == "default" {
        return DockerDriver::from_env().await;
    }
    let dir = crate::driver::docker::docker_config_dir();
    let ep = crate::driver::docker::resolve(None, Some(endpoint), dir.as_deref())?;
    DockerDriver::connect_to(ep).await
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
    let mut out = Vec::with_capacity(ng.nodes.len());
    for node in &ng.nodes {
        if driver_kind(ng) == "docker-container" {
            out.push(container_status(node).await);
            continue;
        }
        if driver_kind(ng) == "kubernetes" {
            out.push(kubernetes_status(node).await);
            continue;
        }
        let st = match node_driver(ng, node).await {
            None => NodeStatus::Unknown(not_available(ng)),
            Some(Err(e)) => NodeStatus::Error(e.to_string()),
            Some(Ok(d)) => query(d).await,
        };
        out.push(st);
    }
    out
}

async fn container_status(node: &Node) -> NodeStatus {
    let driver = match container_driver(node).await {
        Ok(d) => d,
        Err(e) => return NodeStatus::Error(e.to_string()),
    };
    match driver.state().await {
        Ok(ContainerState::Missing) => NodeStatus::Inactive,
        Ok(ContainerState::Stopped) => NodeStatus::Stopped,
        Ok(ContainerState::Running) => query(Arc::new(driver)).await,
        Err(e) => NodeStatus::Error(e.to_string()),
    }
}

/// A kubernetes node: no workload → inactive, no ready replica → stopped
/// (buildx's words); else BuildKit in one running pod answers for the node.
async fn kubernetes_status(node: &Node) -> NodeStatus {
    let driver = match kubernetes_driver(node).await {
        Ok(d) => d,
        Err(e) => return NodeStatus::Error(e.to_string()),
    };
    match driver.state().await {
        Ok(WorkloadState::Missing) => NodeStatus::Inactive,
        Ok(WorkloadState::NotReady) => NodeStatus::Stopped,
        Ok(WorkloadState::Running { .. }) => query(Arc::new(driver)).await,
        Err(e) => NodeStatus::Error(e.to_string()),
    }
}

/// The running pods of each kubernetes node of `ng` (buildx shows them as
/// the builder's nodes in `ls`): `(store node, pod names)`; an error per
/// node is its message. Empty for other drivers.
pub async fn kubernetes_pods(ng: &NodeGroup) -> Vec<(String, Result<Vec<String>, String>)> {
    if driver_kind(ng) != "kubernetes" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for node in &ng.nodes {
        let pods = match kubernetes_driver(node).await {
            Ok(d) => d.running_pods().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        out.push((node.name.clone(), pods));
    }
    out
}

/// Whether `bootstrap` can start nodes of this driver kind in this build;
/// `create --bootstrap` checks it before storing anything.
pub fn can_bootstrap(kind: &str) -> bool {
    matches!(
        kind,
        "docker" | "" | "remote" | "docker-container" | "kubernetes"
    )
}

/// Starts the builder's nodes (`create --bootstrap`, `inspect --bootstrap`,
/// the editor's bootstrap command). Remote and docker: waits until BuildKit
/// answers (remote: up to 20 s). docker-container and kubernetes report
/// their steps to `progress` as (node name, step).
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
        match driver_kind(ng) {
            "remote" => {
                let opts = node.driver_opts.clone().unwrap_or_default();
                let driver: Arc<dyn Driver> =
                    Arc::new(remote_driver(node, &opts).map_err(|e| node_err(e.to_string()))?);
                wait_running(driver, REMOTE_BOOTSTRAP)
                    .await
                    .map_err(node_err)?;
            }
            "docker-container" => container_driver(node)
                .await
                .map_err(|e| node_err(e.to_string()))?
                .bootstrap(&mut step)
                .await
                .map_err(|e| node_err(e.to_string()))?,
            "kubernetes" => kubernetes_driver(node)
                .await
                .map_err(|e| node_err(e.to_string()))?
                .bootstrap(&mut step)
                .await
                .map_err(|e| node_err(e.to_string()))?,
            "docker" => {
                let driver: Arc<dyn Driver> = Arc::new(
                    docker_driver(&node.endpoint)
                        .await
                        .map_err(|e| node_err(e.to_string()))?,
                );
                if let NodeStatus::Error(e) = query(driver).await {
                    return Err(node_err(e));
                }
            }
            _ => {
                return Err(BuilderError::DriverUnavailable {
                    builder: ng.name.clone(),
                    driver: driver_kind(ng).to_string(),
                    action: "bootstrap",
                })
            }
        }
    }
    Ok(())
}

/// Retries until BuildKit answers `ListWorkers`, for at most `limit`.
async fn wait_running(driver: Arc<dyn Driver>, limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    loop {
        let last = match query(driver.clone()).await {
            NodeStatus::Running { .. } => return Ok(()),
            NodeStatus::Error(e) => e,
            other => other.label(),
        };
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

/// Stops the builder's nodes (`builder stop`).
pub async fn stop(ng: &NodeGroup) -> Result<(), BuilderError> {
    // buildx's docker and remote drivers have nothing to stop: their daemon
    // is not ours. Its kubernetes driver leaves the pods running too (it
    // may scale to zero one day).
    if matches!(driver_kind(ng), "docker" | "remote" | "kubernetes") {
        return Ok(());
    }
    if driver_kind(ng) == "docker-container" {
        for node in &ng.nodes {
            let d = container_driver(node).await.map_err(node_error(ng))?;
            d.stop().await.map_err(node_error(ng))?;
        }
        return Ok(());
    }
    Err(BuilderError::DriverUnavailable {
        builder: ng.name.clone(),
        driver: driver_kind(ng).to_string(),
        action: "stop",
    })
}

/// Removes the builder's daemons (`builder rm` without `--keep-daemon`);
/// `keep_state` keeps BuildKit's state volume.
pub async fn teardown(ng: &NodeGroup, keep_state: bool) -> Result<(), BuilderError> {
    // As `stop`: buildx's docker and remote drivers remove nothing.
    if matches!(driver_kind(ng), "docker" | "remote") {
        return Ok(());
    }
    if driver_kind(ng) == "docker-container" {
        for node in &ng.nodes {
            let d = container_driver(node).await.map_err(node_error(ng))?;
            d.remove(keep_state).await.map_err(node_error(ng))?;
        }
        return Ok(());
    }
    if driver_kind(ng) == "kubernetes" {
        // The workload and its ConfigMaps; volume claims stay, as in buildx.
        for node in &ng.nodes {
            let d = kubernetes_driver(node).await.map_err(node_error(ng))?;
            d.remove().await.map_err(node_error(ng))?;
        }
        return Ok(());
    }
    Err(BuilderError::DriverUnavailable {
        builder: ng.name.clone(),
        driver: driver_kind(ng).to_string(),
        action: "remove the daemon of",
    })
}

/// The driver a build with `--builder NAME` goes through (its first node).
/// `Ok(None)`: a docker builder, which the caller reaches its own way.
pub async fn build_driver(
    env: &super::Env,
    name: &str,
) -> Result<Option<Arc<dyn Driver>>, BuilderError> {
    build_driver_for_context(env, name, None).await
}

/// [`build_driver`] for a build of `context`: a kubernetes builder with
/// `loadbalance=sticky` then sends every build of that context to the same
/// pod (buildx hashes the absolute context path; without one, the working
/// directory).
pub async fn build_driver_for_context(
    env: &super::Env,
    name: &str,
    context: Option<&std::path::Path>,
) -> Result<Option<Arc<dyn Driver>>, BuilderError> {
    let ng = {
        let store = super::open_store(env)?;
        let txn = store.txn()?;
        super::selection::node_group(&txn, env, name)?
        // the lock is released here, before connecting
    };
    if driver_kind(&ng) == "docker" {
        return Ok(None);
    }
    let node = ng.nodes.first().ok_or_else(|| BuilderError::Node {
        builder: ng.name.clone(),
        detail: "the builder has no nodes".into(),
    })?;
    if driver_kind(&ng) == "kubernetes" {
        let driver = kubernetes_driver(node).await.map_err(node_error(&ng))?;
        let driver = match context.and_then(|c| std::path::absolute(c).ok()) {
            Some(abs) => driver.with_sticky_key(&abs.display().to_string()),
            None => driver,
        };
        return Ok(Some(Arc::new(driver)));
    }
    match node_driver(&ng, node).await {
        Some(Ok(d)) => Ok(Some(d)),
        Some(Err(e)) => Err(BuilderError::Node {
            builder: ng.name.clone(),
            detail: e.to_string(),
        }),
        None => Err(BuilderError::DriverUnavailable {
            builder: ng.name.clone(),
            driver: driver_kind(&ng).to_string(),
            action: "build with",
        }),
    }
}

/// Maps a driver failure on one of `ng`'s nodes to the store's error.
fn node_error<E: std::fmt::Display>(ng: &NodeGroup) -> impl Fn(E) -> BuilderError + '_ {
    move |e| BuilderError::Node {
        builder: ng.name.clone(),
        detail: e.to_string(),
    }
}
