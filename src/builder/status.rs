//! The seam between the store and the drivers: what only a driver can tell
//! (is the node's BuildKit running, its version and platforms) or do
//! (bootstrap, stop, tear down). Until a driver kind is wired here, the
//! answers say plainly that the driver is not available yet; nothing is
//! invented. Driver engineers: fill `status`, `bootstrap`, `stop` and
//! `teardown` per kind (the kind is `NodeGroup::driver`, `""` = docker).

use super::nodegroup::NodeGroup;
use super::platform::Platform;
use super::BuilderError;

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

/// The status of each node of `ng`, in node order.
pub async fn status(ng: &NodeGroup) -> Vec<NodeStatus> {
    ng.nodes
        .iter()
        .map(|_| NodeStatus::Unknown(not_available(ng)))
        .collect()
}

/// Whether `bootstrap` can start nodes of this driver kind in this build;
/// `create --bootstrap` checks it before storing anything.
pub fn can_bootstrap(kind: &str) -> bool {
    let _ = kind;
    false
}

/// Starts the builder's nodes (`create --bootstrap`, `inspect --bootstrap`).
pub async fn bootstrap(ng: &NodeGroup) -> Result<(), BuilderError> {
    Err(BuilderError::DriverUnavailable {
        builder: ng.name.clone(),
        driver: driver_kind(ng).to_string(),
        action: "bootstrap",
    })
}

/// Stops the builder's nodes (`builder stop`).
pub async fn stop(ng: &NodeGroup) -> Result<(), BuilderError> {
    // buildx's docker and remote drivers have nothing to stop: their daemon
    // is not ours.
    if matches!(driver_kind(ng), "docker" | "remote") {
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
    let _ = keep_state;
    // As `stop`: buildx's docker and remote drivers remove nothing.
    if matches!(driver_kind(ng), "docker" | "remote") {
        return Ok(());
    }
    Err(BuilderError::DriverUnavailable {
        builder: ng.name.clone(),
        driver: driver_kind(ng).to_string(),
        action: "remove the daemon of",
    })
}
