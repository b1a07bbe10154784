//! The store side of `builder create`, `use` and `rm`, step for step as
//! buildx's `builder.Create`, `runUse` and `runRm`, with buildx's messages.
//! Everything here runs inside one locked `Txn`; driver options and
//! endpoints are checked by the driver's factory, daemons are the drivers'
//! business (see `status`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::context::Env;
use super::name::{random_name, DEFAULT_BUILDER};
use super::nodegroup::{NodeGroup, NodeUpdate};
use super::platform;
use super::selection::node_group;
use super::store::Txn;
use super::BuilderError;
use crate::driver::factory::{self, EndpointRule};

/// Arguments of `builder create`.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    pub driver: Option<String>,
    pub node: Option<String>,
    pub platforms: Vec<String>,
    pub driver_opts: Vec<String>,
    pub buildkitd_flags: Option<String>,
    pub config: Option<PathBuf>,
    pub use_builder: bool,
    pub append: bool,
    pub endpoint: Option<String>,
}

fn invalid(msg: String) -> BuilderError {
    BuilderError::Invalid(msg)
}

/// Creates a builder, or changes one (`--append`, `--node`), and saves it.
pub fn create(
    txn: &mut Txn<'_>,
    env: &Env,
    opts: &CreateOptions,
) -> Result<NodeGroup, BuilderError> {
    let given = opts.name.clone().filter(|n| !n.is_empty());
    if given.as_deref() == Some(DEFAULT_BUILDER) {
        return Err(invalid(
            "default is a reserved name and cannot be used to identify builder instance".into(),
        ));
    }
    if opts.append && given.is_none() {
        return Err(invalid("append requires a builder name".into()));
    }
    let name = match &given {
        Some(n) => n.clone(),
        None => generate_name(txn)?,
    };
    if !opts.append && env.contexts().iter().any(|c| c.name == name) {
        return Err(invalid(format!(
            "instance name {name:?} already exists as context builder"
        )));
    }
    let existing = txn.node_group_by_name(&name)?;
    if existing.is_none() && opts.append {
        return Err(invalid(format!(
            "failed to find instance {name:?} for append"
        )));
    }
    let endpoint_arg = opts.endpoint.clone().filter(|e| !e.is_empty());
    let driver = match (&opts.driver, &existing) {
        (Some(d), _) if !d.is_empty() => d.clone(),
        (_, Some(ng)) => ng.driver.clone(),
        _ if endpoint_arg.is_none() && env.buildkit_host.is_some() => "remote".into(),
        // buildx's default factory among drivers that allow instances.
        _ => "docker-container".into(),
    };
    let node_name = opts.node.clone().unwrap_or_default();
    if let Some(ng) = &existing {
        if node_name.is_empty() && !opts.append {
            return Err(invalid(format!(
                "existing instance for {name:?} but no append mode, specify the node name to make changes for existing instances"
            )));
        }
        if driver != ng.driver {
            return Err(invalid(format!(
                "existing instance for {name:?} but has mismatched driver {:?}",
                ng.driver
            )));
        }
    }
    let factory = factory::for_create(&driver).map_err(invalid)?;
    let mut ng = existing.unwrap_or_else(|| NodeGroup {
        name: name.clone(),
        driver: driver.clone(),
        ..NodeGroup::default()
    });

    let driver_opts_map = crate::options::csv_to_map(&opts.driver_opts).map_err(invalid)?;
    let config_file = opts.config.clone().or_else(|| {
        let f = env.buildx_dir().join("buildkitd.default.toml");
        f.is_file().then_some(f)
    });
    let config_data = match &config_file {
        None => None,
        Some(path) => Some(std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                invalid(format!(
                    "buildkit configuration file not found: {}: {e}",
                    path.display()
                ))
            } else {
                invalid(format!(
                    "failed to read buildkit configuration file: {}: {e}",
                    path.display()
                ))
            }
        })?),
    };
    let config_text = config_data
        .as_deref()
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let flags = factory::buildkitd_flags(
        opts.buildkitd_flags.as_deref().unwrap_or_default(),
        factory,
        driver_opts_map.as_ref(),
        config_text.as_deref(),
    )
    .map_err(invalid)?;

    let mut node_for_update = node_name.clone();
    let (endpoint, endpoint_set) = match factory.endpoint_rule() {
        EndpointRule::Own => {
            if let Some(ep) = &endpoint_arg {
                return Err(invalid(format!(
                    "{driver} driver does not support endpoint args {ep:?}"
                )));
            }
            if node_for_update.is_empty() {
                let taken: Vec<&str> = ng.nodes.iter().map(|n| n.name.as_str()).collect();
                node_for_update = factory.new_node_name(&taken).unwrap_or_default();
            }
            (factory.own_endpoint(&name, &node_for_update), false)
        }
        EndpointRule::Buildkit => {
            let ep = endpoint_arg
                .clone()
                .or_else(|| env.buildkit_host.clone())
                .ok_or_else(|| invalid("no remote endpoint provided".into()))?;
            factory.validate_endpoint(&ep).map_err(invalid)?;
            (ep, true)
        }
        EndpointRule::DockerEngine => match &endpoint_arg {
            Some(ep) => (docker_endpoint(env, ep)?, true),
            None => {
                // buildx cannot record TLS material taken from the environment
                if env.current_context() == "default" && env.docker_tls_from_env {
                    return Err(invalid("could not create a builder instance with TLS data loaded from environment. Please use `docker context create <context-name>` to create a context for current environment and then create a builder instance with context set to <context-name>".into()));
                }
                (env.current_endpoint(), false)
            }
        },
    };

    let files = config_data.map(|d| BTreeMap::from([("buildkitd.toml".to_string(), d)]));
    ng.update(NodeUpdate {
        name: node_for_update,
        endpoint: endpoint.clone(),
        endpoint_set,
        append: opts.append,
        platforms: platform::parse_list(&opts.platforms)?,
        buildkitd_flags: flags,
        driver_opts: driver_opts_map,
        files,
    })?;

    // What buildx's driver factory would refuse when loading the nodes; buildx
    // saves, fails, and rolls back, so nothing is left behind either way.
    for node in &ng.nodes {
        if let Err(msg) = factory.validate(&super::status::init_config(node, None)) {
            return Err(invalid(format!(
                "failed to initialize builder {} ({}): {msg}",
                ng.name, node.name
            )));
        }
    }
    txn.save(&ng)?;

    if opts.use_builder && !endpoint.is_empty() {
        txn.set_current(&env.current_endpoint(), &ng.name, false, false)?;
    }
    Ok(ng)
}

/// `create --leave --name B --node N`.
pub fn leave(
    txn: &mut Txn<'_>,
    name: Option<&str>,
    node: Option<&str>,
) -> Result<NodeGroup, BuilderError> {
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("leave requires instance name".into()))?;
    let node = node
        .filter(|n| !n.is_empty())
        .ok_or_else(|| invalid("leave requires node name".into()))?;
    let mut ng = txn
        .node_group_by_name(name)?
        .ok_or_else(|| invalid(format!("failed to find instance {name:?} for leave")))?;
    ng.leave(node)?;
    let refs = txn_refs_dir(txn, &ng.name, node);
    let _ = std::fs::remove_dir_all(refs);
    txn.save(&ng)?;
    Ok(ng)
}

fn txn_refs_dir(txn: &Txn<'_>, builder: &str, node: &str) -> PathBuf {
    txn.store_dir().join("refs").join(builder).join(node)
}

/// `builder use [--global] [--default] NAME`, as buildx's `runUse`.
pub fn use_builder(
    txn: &mut Txn<'_>,
    env: &Env,
    name: &str,
    global: bool,
    default: bool,
) -> Result<(), BuilderError> {
    let found = match txn.node_group_by_name(name) {
        Ok(found) => found,
        Err(BuilderError::InvalidName(_)) => None,
        Err(err) => return Err(err),
    };
    if found.is_none() {
        let current_context = env.current_context();
        if name == DEFAULT_BUILDER && name != current_context {
            return Err(invalid(
                "run `docker context use default` to switch to default context".into(),
            ));
        }
        if name == DEFAULT_BUILDER || name == current_context {
            return txn.set_current(&env.current_endpoint(), "", false, false);
        }
        if env.contexts().iter().any(|c| c.name == name) {
            return Err(invalid(format!(
                "run `docker context use {name}` to switch to context {name}"
            )));
        }
        return Err(invalid(format!(
            "failed to find instance {name:?}: open {}: no such file or directory",
            txn.store_dir()
                .join("instances")
                .join(name.to_ascii_lowercase())
                .display()
        )));
    }
    txn.set_current(&env.current_endpoint(), name, global, default)
}

/// The store side of `builder rm`: refuses docker context builders, removes
/// the instance, its activity and refs. Returns the removed group so the
/// caller can ask its driver to tear the daemon down.
pub fn remove(txn: &mut Txn<'_>, env: &Env, name: &str) -> Result<NodeGroup, BuilderError> {
    let ng = node_group(txn, env, name)?;
    if ng.docker_context {
        return Err(invalid(format!(
            "context builder cannot be removed, run `docker context rm {}` to remove this context",
            ng.name
        )));
    }
    txn.remove(&ng.name)?;
    Ok(ng)
}

/// A random name not used yet (buildx's `GenerateName`: six tries).
fn generate_name(txn: &Txn<'_>) -> Result<String, BuilderError> {
    for i in 0..6 {
        let name = random_name(i);
        if txn.node_group_by_name(&name)?.is_none() {
            return Ok(name);
        }
    }
    Err(invalid("failed to generate random name".into()))
}

/// buildx's `validateEndpoint`: a docker context name stays a name (the
/// `default` context becomes its host), otherwise a docker host address.
fn docker_endpoint(env: &Env, ep: &str) -> Result<String, BuilderError> {
    if let Some(ctx) = env.context(ep) {
        if ep == DEFAULT_BUILDER {
            return Ok(ctx.host.unwrap_or_else(|| env.default_host()));
        }
        return Ok(ep.to_string());
    }
    crate::driver::docker::parse_host(ep).map_err(invalid)
}
