//! The factory registry, as buildx's `driver.Factory`: one factory per driver
//! kind owns that kind's option rules (checked at `builder create` with
//! buildx's words, and read again by the very same code when the driver is
//! built) and builds the driver for a stored node. The builder layer looks a
//! factory up by the stored driver name and never decides anything by kind
//! itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::{docker, docker_container, kubernetes, remote, Driver, DriverError, DriverKind};

/// What a factory builds a driver from: one stored node, plus the build's
/// context (buildx's `driver.InitConfig`).
#[derive(Debug, Clone, Default)]
pub struct InitConfig {
    /// The node's name.
    pub name: String,
    /// The node's endpoint as stored (a docker context or host, a BuildKit
    /// address, the kubernetes driver's own URL).
    pub endpoint: String,
    pub driver_opts: BTreeMap<String, String>,
    pub buildkitd_flags: Vec<String>,
    /// Files for the daemon (`buildkitd.toml`).
    pub files: Option<BTreeMap<String, Vec<u8>>>,
    /// Platforms pinned on the node, `os/arch[/variant]`.
    pub platforms: Vec<String>,
    /// The build's context directory, for drivers that pick a daemon per
    /// context (kubernetes `loadbalance=sticky`; buildx's
    /// `ContextPathHash`). `None`: the working directory.
    pub context_path: Option<PathBuf>,
}

/// Where `builder create` takes a node's endpoint from, per driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointRule {
    /// A docker context name or a docker host (docker, docker-container).
    DockerEngine,
    /// A BuildKit address: `--endpoint`, else `BUILDKIT_HOST` (remote),
    /// checked with [`Factory::validate_endpoint`].
    Buildkit,
    /// The driver's own address for the node ([`Factory::own_endpoint`]);
    /// a given `--endpoint` is refused (kubernetes).
    Own,
}

/// One driver kind's factory.
pub trait Factory: Sync {
    fn kind(&self) -> DriverKind;

    /// Whether `builder create` may make builders of this kind (buildx's
    /// `AllowsInstances`; the docker driver's builders are docker contexts).
    fn allows_instances(&self) -> bool {
        true
    }

    /// The checks buildx's factory makes when it loads a node; the bare
    /// message, for `create` to wrap as buildx does.
    fn validate(&self, cfg: &InitConfig) -> Result<(), String>;

    /// The driver for a node (reads certificates, resolves the cluster or
    /// engine; does not start anything).
    fn new_driver<'a>(
        &'a self,
        cfg: &'a InitConfig,
    ) -> BoxFuture<'a, Result<Arc<dyn Driver>, DriverError>>;

    /// Whether the driver creates its daemons (and so has something to
    /// stop and remove). `false`: the daemon is someone else's (an engine,
    /// a remote BuildKit), and stop and remove build no driver at all.
    fn owns_daemon(&self) -> bool {
        true
    }

    /// Where `builder create` takes the node's endpoint from.
    fn endpoint_rule(&self) -> EndpointRule {
        EndpointRule::DockerEngine
    }

    /// Checks a given endpoint ([`EndpointRule::Buildkit`]).
    fn validate_endpoint(&self, _endpoint: &str) -> Result<(), String> {
        Ok(())
    }

    /// The endpoint the driver gives node `node` of builder `builder`
    /// ([`EndpointRule::Own`]).
    fn own_endpoint(&self, _builder: &str, _node: &str) -> String {
        String::new()
    }

    /// A fresh node name not in `taken` ([`EndpointRule::Own`] drivers name
    /// their nodes; others use the endpoint or the builder's name).
    fn new_node_name(&self, _taken: &[&str]) -> Option<String> {
        None
    }

    /// Whether BuildKit runs in its own network namespace (container
    /// drivers): `create` then grants the `network.host` entitlement unless
    /// the user chose entitlements, as buildx does.
    fn isolated_network(&self) -> bool {
        false
    }

    /// Whether the driver options put BuildKit on the host network, which
    /// always needs the `network.host` entitlement.
    fn host_network(&self, _driver_opts: Option<&BTreeMap<String, String>>) -> bool {
        false
    }
}

/// Every factory, in buildx's registration order.
static FACTORIES: [&(dyn Factory + 'static); 4] = [
    &docker::Factory,
    &docker_container::Factory,
    &kubernetes::Factory,
    &remote::Factory,
];

/// The factory of a stored builder's driver name (`""`, a docker
/// context's builder, is docker). `None`: a kind this build does not know.
pub fn factory(name: &str) -> Option<&'static dyn Factory> {
    let name = if name.is_empty() {
        DriverKind::Docker.name()
    } else {
        name
    };
    FACTORIES.iter().copied().find(|f| f.kind().name() == name)
}

/// buildx's `driver.GetFactory(name, instanceRequired=true)` for `create`.
pub fn for_create(name: &str) -> Result<&'static dyn Factory, String> {
    let f = FACTORIES
        .iter()
        .copied()
        .find(|f| f.kind().name() == name)
        .ok_or_else(|| format!("failed to find driver {name:?}"))?;
    if !f.allows_instances() {
        return Err(format!(
            "additional instances of driver {name:?} cannot be created"
        ));
    }
    Ok(f)
}

const NETWORK_HOST_FLAG: &str = "--allow-insecure-entitlement=network.host";

/// buildx's `parseBuildkitdFlags`: split the flags (shell words), then add
/// the `network.host` entitlement for container drivers unless the user
/// chose entitlements (on the command line or in the BuildKit config).
pub fn buildkitd_flags(
    input: &str,
    factory: &dyn Factory,
    driver_opts: Option<&BTreeMap<String, String>>,
    config_toml: Option<&str>,
) -> Result<Option<Vec<String>>, String> {
    let mut res = if input.is_empty() {
        None
    } else {
        Some(
            crate::options::shell_words(input)
                .map_err(|e| format!("failed to parse buildkit flags: {e}"))?,
        )
    };
    let mut entitlements = Vec::new();
    {
        let words = res.as_deref().unwrap_or_default();
        let mut i = 0;
        while i < words.len() {
            if let Some(v) = words[i].strip_prefix("--allow-insecure-entitlement=") {
                entitlements.push(v.to_string());
            } else if words[i] == "--allow-insecure-entitlement" {
                if let Some(v) = words.get(i + 1) {
                    entitlements.push(v.clone());
                    i += 1;
                }
            }
            i += 1;
        }
    }
    let has_network_host = entitlements.iter().any(|e| e == "network.host");
    let in_config = config_toml.is_some_and(config_has_network_host);
    // buildx's two branches: a host network always gets the entitlement;
    // otherwise isolated drivers get it unless the user chose any.
    let forced = factory.host_network(driver_opts) && !has_network_host;
    let implied = entitlements.is_empty() && !in_config && factory.isolated_network();
    if forced || implied {
        res.get_or_insert_with(Vec::new)
            .push(NETWORK_HOST_FLAG.into());
    }
    Ok(res)
}

/// Whether a buildkitd.toml lists `network.host` in `insecure-entitlements`.
/// A line scan, enough for the one top-level key this looks at.
fn config_has_network_host(toml: &str) -> bool {
    let mut in_key = false;
    for line in toml.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') && !in_key {
            // tables start: top-level keys are over
            return false;
        }
        if let Some(rest) = line.strip_prefix("insecure-entitlements") {
            in_key = rest.trim_start().starts_with('=');
        }
        if in_key {
            if line.contains("\"network.host\"") || line.contains("'network.host'") {
                return true;
            }
            if line.contains(']') {
                in_key = false;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> &'static dyn Factory {
        factory(name).unwrap()
    }

    fn cfg(k: &str, v: &str) -> InitConfig {
        InitConfig {
            driver_opts: [(k.to_string(), v.to_string())].into(),
            ..InitConfig::default()
        }
    }

    #[test]
    fn every_kind_has_one_factory() {
        for kind in DriverKind::ALL {
            assert_eq!(f(kind.name()).kind(), kind);
        }
        assert_eq!(f("").kind(), DriverKind::Docker);
        assert!(factory("podman").is_none());
    }

    #[test]
    fn create_refuses_unknown_drivers_and_docker_instances() {
        assert_eq!(
            for_create("nope").err().unwrap(),
            "failed to find driver \"nope\""
        );
        assert_eq!(
            for_create("docker").err().unwrap(),
            "additional instances of driver \"docker\" cannot be created"
        );
        assert!(for_create("remote").is_ok());
    }

    #[test]
    fn unknown_option_messages_are_buildx_wording() {
        let check = |d: &str, k: &str, v: &str| f(d).validate(&cfg(k, v));
        for (driver, key, value, message) in [
            (
                "docker-container",
                "foo",
                "1",
                "invalid driver option foo for docker-container driver",
            ),
            (
                "remote",
                "foo",
                "1",
                "invalid driver option foo for remote driver",
            ),
            (
                "kubernetes",
                "foo",
                "1",
                "invalid driver option foo for driver kubernetes",
            ),
            (
                "remote",
                "cacert",
                "rel/ca.pem",
                "non-absolute path 'rel/ca.pem' provided for cacert",
            ),
            (
                "remote",
                "cert",
                "/c.pem",
                "tls enabled, but missing keys cacert, key",
            ),
            (
                "docker-container",
                "default-load",
                "yes",
                "strconv.ParseBool: parsing \"yes\": invalid syntax",
            ),
            (
                "remote",
                "default-load",
                "yes",
                "strconv.ParseBool: parsing \"yes\": invalid syntax",
            ),
            ("docker-container", "memory", "lots", "invalid size: 'lots'"),
        ] {
            assert_eq!(
                check(driver, key, value).unwrap_err(),
                message,
                "{driver} {key}={value}"
            );
        }
        assert!(check("docker-container", "memory", "512m").is_ok());
        assert!(check("docker-container", "env.HTTP_PROXY", "x").is_ok());
        let files = InitConfig {
            files: Some([("buildkitd.toml".to_string(), b"x".to_vec())].into()),
            ..InitConfig::default()
        };
        assert_eq!(
            f("docker").validate(&files).unwrap_err(),
            "setting config file is not supported for docker driver, use dockerd configuration file"
        );
    }

    #[test]
    fn network_host_entitlement_added_as_buildx_does() {
        let dc = f("docker-container");
        assert_eq!(
            buildkitd_flags("", dc, None, None).unwrap(),
            Some(vec![NETWORK_HOST_FLAG.to_string()])
        );
        assert_eq!(
            buildkitd_flags("", f("kubernetes"), None, None).unwrap(),
            Some(vec![NETWORK_HOST_FLAG.to_string()])
        );
        assert_eq!(buildkitd_flags("", f("remote"), None, None).unwrap(), None);
        assert_eq!(
            buildkitd_flags(
                "--debug --allow-insecure-entitlement security.insecure",
                dc,
                None,
                None
            )
            .unwrap(),
            Some(vec![
                "--debug".to_string(),
                "--allow-insecure-entitlement".to_string(),
                "security.insecure".to_string()
            ])
        );
        assert_eq!(
            buildkitd_flags(
                "",
                dc,
                None,
                Some("insecure-entitlements = [ \"network.host\" ]\n")
            )
            .unwrap(),
            None
        );
        let opts: BTreeMap<String, String> = [("network".to_string(), "host".to_string())].into();
        assert_eq!(
            buildkitd_flags(
                "--allow-insecure-entitlement=security.insecure",
                dc,
                Some(&opts),
                None
            )
            .unwrap(),
            Some(vec![
                "--allow-insecure-entitlement=security.insecure".to_string(),
                NETWORK_HOST_FLAG.to_string()
            ])
        );
        assert_eq!(
            buildkitd_flags("\"open", dc, None, None).unwrap_err(),
            "failed to parse buildkit flags: EOF found when expecting closing quote"
        );
    }
}
