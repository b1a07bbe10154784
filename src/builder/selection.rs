//! Which builder a build uses, in buildx's order: `--builder NAME`, then
//! `BUILDX_BUILDER`, then the store's `current` for the docker endpoint
//! (global, per endpoint, or the `use --default` choice), else the current
//! docker context's own builder (`default` for the default context).
//! A name resolves to a stored builder first, then to a docker context.

use super::context::Env;
use super::nodegroup::{Node, NodeGroup};
use super::store::Txn;
use super::BuilderError;

/// Where the selected builder came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Flag,
    Env,
    Current,
    DockerContext,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::Flag => "--builder",
            Source::Env => "BUILDX_BUILDER",
            Source::Current => "the buildx store's current builder",
            Source::DockerContext => "the docker context's own builder",
        }
    }
}

/// The builder a build would use, and why.
#[derive(Debug, Clone)]
pub struct Selected {
    pub group: NodeGroup,
    pub source: Source,
}

/// The builder a docker context stands for: one node named and addressed by
/// the context, driver resolved later (docker).
pub fn context_group(name: &str) -> NodeGroup {
    NodeGroup {
        name: name.to_string(),
        nodes: vec![Node {
            name: name.to_string(),
            endpoint: name.to_string(),
            ..Node::default()
        }],
        docker_context: true,
        ..NodeGroup::default()
    }
}

/// buildx's `GetNodeGroup`: a stored builder, else a docker context of that
/// name, else `no builder "NAME" found`.
pub fn node_group(txn: &Txn<'_>, env: &Env, name: &str) -> Result<NodeGroup, BuilderError> {
    match txn.node_group_by_name(name) {
        Ok(Some(ng)) => return Ok(ng),
        Ok(None) | Err(BuilderError::InvalidName(_)) => {}
        Err(err) => return Err(err),
    }
    if env.context(name).is_some() {
        return Ok(context_group(name));
    }
    Err(BuilderError::NotFound(name.to_string()))
}

/// Selects the builder for a build. `flag` is `--builder`.
pub fn select(txn: &mut Txn<'_>, env: &Env, flag: Option<&str>) -> Result<Selected, BuilderError> {
    let named = match (
        flag.filter(|f| !f.is_empty()),
        env.buildx_builder.as_deref(),
    ) {
        (Some(name), _) => Some((name, Source::Flag)),
        (None, Some(name)) => Some((name, Source::Env)),
        (None, None) => None,
    };
    if let Some((name, source)) = named {
        return Ok(Selected {
            group: node_group(txn, env, name)?,
            source,
        });
    }
    if let Some(group) = txn.current(&env.current_endpoint())? {
        return Ok(Selected {
            group,
            source: Source::Current,
        });
    }
    Ok(Selected {
        group: node_group(txn, env, &env.current_context())?,
        source: Source::DockerContext,
    })
}

/// Every builder `buildx ls` shows, in its order: the stored ones (sorted),
/// then each docker context's own builder unless a stored builder has its
/// name. Corrupt instance files are skipped (see `Txn::warnings`).
pub fn all_builders(txn: &mut Txn<'_>, env: &Env) -> Result<Vec<NodeGroup>, BuilderError> {
    let mut groups = txn.list()?;
    for ctx in env.contexts() {
        if !groups.iter().any(|g| g.name == ctx.name) {
            groups.push(context_group(&ctx.name));
        }
    }
    Ok(groups)
}

/// The builder `buildx ls` marks as current (`*`): the store's current one
/// for this docker endpoint, else the docker context's; `BUILDX_BUILDER` and
/// `--builder` are not consulted, as in buildx.
pub fn current_builder(txn: &mut Txn<'_>, env: &Env) -> Result<NodeGroup, BuilderError> {
    if let Some(group) = txn.current(&env.current_endpoint())? {
        return Ok(group);
    }
    node_group(txn, env, &env.current_context())
}
