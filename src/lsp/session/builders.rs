//! What the session keeps about builders between requests: the workspace's
//! choice, the resolved builder with its driver's features, and the last
//! known status of each builder. Data only; `lsp::builds::selection` fills
//! it (store reads, probes, the status watch).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Notify;

use crate::builder::status::{driver_kind, NodeStatus};
use crate::builder::NodeGroup;
use crate::driver::{DriverKind, Features};

/// The builder the workspace builds with, as resolved from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentBuilder {
    /// The builder's name as stored (`default` for the docker context's own).
    pub name: String,
    /// The driver name as buildx spells it (`docker`, `docker-container`, …).
    pub driver: String,
    /// The store's record: nodes, endpoints, driver options.
    pub group: NodeGroup,
    /// What its driver can do; `None` for a driver kind this build does not
    /// know (no capability findings then). For the docker driver the
    /// containerd image store is only known once the engine answered.
    pub features: Option<Features>,
}

impl CurrentBuilder {
    pub(crate) fn from_group(group: NodeGroup) -> CurrentBuilder {
        let driver = driver_kind(&group).to_string();
        CurrentBuilder {
            name: group.name.clone(),
            features: DriverKind::from_name(&driver).map(Features::of),
            driver,
            group,
        }
    }
}

/// The last known status of one builder, as `buildx ls` words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownStatus {
    /// `running`, `inactive`, `stopped`, `error` or `unknown`.
    pub status: &'static str,
    /// Platforms its running nodes offer (else the ones pinned in the store).
    pub platforms: Vec<String>,
    pub error: Option<String>,
}

impl KnownStatus {
    /// The builder's status from its nodes' statuses: the first node's, as
    /// `buildx inspect` leads with it; the first node error is the message.
    pub fn from_nodes(group: &NodeGroup, nodes: &[NodeStatus]) -> KnownStatus {
        let status = match nodes.first() {
            Some(NodeStatus::Running { .. }) => "running",
            Some(NodeStatus::Stopped) => "stopped",
            Some(NodeStatus::Inactive) => "inactive",
            Some(NodeStatus::Error(_)) => "error",
            Some(NodeStatus::Unknown(_)) | None => "unknown",
        };
        let error = nodes.iter().find_map(|n| match n {
            NodeStatus::Error(e) | NodeStatus::Unknown(e) => Some(e.clone()),
            _ => None,
        });
        let mut platforms: Vec<String> = Vec::new();
        for n in nodes {
            if let NodeStatus::Running { platforms: ps, .. } = n {
                for p in ps {
                    let p = p.format();
                    if !platforms.contains(&p) {
                        platforms.push(p);
                    }
                }
            }
        }
        if platforms.is_empty() {
            for node in &group.nodes {
                for p in node.platforms.iter().flatten() {
                    let p = p.format();
                    if !platforms.contains(&p) {
                        platforms.push(p);
                    }
                }
            }
        }
        KnownStatus {
            status,
            platforms,
            error,
        }
    }

    /// Whether the builder's BuildKit answered (or has nothing to answer yet:
    /// a container builder that is not started is not an outage).
    pub fn reachable(&self) -> bool {
        matches!(self.status, "running" | "inactive" | "stopped")
    }
}

/// One builder of the store, as the quick fixes list them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownBuilder {
    pub name: String,
    pub driver: String,
}

/// What the session keeps about builders between requests (in
/// `session::State`, behind its lock; never held across an `.await`).
#[derive(Debug, Default)]
pub struct BuilderState {
    /// The workspace's choice by name; `None` = the builder buildx would pick.
    pub chosen: Option<String>,
    /// The resolved builder, once resolved.
    pub current: Option<CurrentBuilder>,
    /// Every builder of the store, from the last read.
    pub known: Vec<KnownBuilder>,
    /// Last known status by builder name.
    pub statuses: HashMap<String, KnownStatus>,
    /// What the last `buildkit/builderChanged` said: (name, status, reachable).
    pub last_notice: Option<(String, String, bool)>,
    /// Set while an outage of the selected builder has been reported, so the
    /// message shows once per outage.
    pub outage_reported: bool,
    /// Wakes the status watch early (selection changed).
    pub wake: Arc<Notify>,
    /// The watch task runs (started once, after `initialized`).
    pub watching: bool,
    /// The workspace folders (`initialize`), where bake files are looked for.
    pub folders: Vec<std::path::PathBuf>,
    /// `buildkit.enableLoad` ran: `buildkit.build.load` counts as true until
    /// the client sends settings with it.
    pub load_override: bool,
    /// Bake files and Dockerfiles read from disk, by path (`None`: missing).
    pub disk: HashMap<std::path::PathBuf, Option<Arc<str>>>,
    /// The generation of each open document at its last capability check,
    /// to notice edits: a bake edit changes what the Dockerfiles build, a
    /// Dockerfile edit what the bake files' findings say.
    pub seen_generations: HashMap<String, u64>,
    /// Bumped on every selection change, so a status poll that started
    /// before it does not overwrite the new builder's state.
    pub selection_epoch: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builder::platform::Platform;
    use crate::builder::Node;

    fn group(platforms: Option<Vec<Platform>>) -> NodeGroup {
        NodeGroup {
            name: "b".into(),
            driver: "docker-container".into(),
            nodes: vec![Node {
                name: "b0".into(),
                platforms,
                ..Node::default()
            }],
            ..NodeGroup::default()
        }
    }

    fn platform(os: &str, arch: &str) -> Platform {
        Platform {
            os: os.into(),
            architecture: arch.into(),
            ..Platform::default()
        }
    }

    #[test]
    fn status_is_the_first_nodes_with_running_platforms_first() {
        let g = group(Some(vec![platform("linux", "arm64")]));
        let st = KnownStatus::from_nodes(
            &g,
            &[
                NodeStatus::Running {
                    version: "v0.12".into(),
                    platforms: vec![platform("linux", "amd64"), platform("linux", "386")],
                },
                NodeStatus::Error("node 2 down".into()),
            ],
        );
        assert_eq!(st.status, "running");
        assert_eq!(st.platforms, ["linux/amd64", "linux/386"]);
        assert_eq!(st.error.as_deref(), Some("node 2 down"));
        assert!(st.reachable());
    }

    #[test]
    fn stopped_builders_are_reachable_and_show_pinned_platforms() {
        let g = group(Some(vec![platform("linux", "arm64")]));
        let st = KnownStatus::from_nodes(&g, &[NodeStatus::Stopped]);
        assert_eq!(st.status, "stopped");
        assert_eq!(st.platforms, ["linux/arm64"]);
        assert!(st.reachable());
        let st = KnownStatus::from_nodes(&g, &[NodeStatus::Unknown("driver x".into())]);
        assert_eq!(st.status, "unknown");
        assert!(!st.reachable());
    }

    #[test]
    fn unknown_driver_kinds_have_no_features() {
        let mut g = group(None);
        assert_eq!(
            CurrentBuilder::from_group(g.clone()).features,
            Some(Features::of(DriverKind::DockerContainer))
        );
        g.driver = "cloud".into();
        assert_eq!(CurrentBuilder::from_group(g.clone()).features, None);
        g.driver = String::new();
        let docker = CurrentBuilder::from_group(g);
        assert_eq!(docker.driver, "docker");
        assert_eq!(docker.features, Some(Features::of(DriverKind::Docker)));
    }
}
