//! Build configuration: which builds of a Dockerfile the user has
//! configured, from (in this order) the bake files of the workspace folder,
//! the `buildkit.build.*` settings, and defaults. Each configured build is a
//! [`BuildSpec`] plus, for bake targets, where each attribute was written, so
//! capability findings can point at the bake file too.
//!
//! Rules:
//! - A Dockerfile that some bake target builds gets one build per such
//!   target (its resolved `dockerfile` is that file). Targets that only serve
//!   as parents (named in another target's `inherits`, in no group) are left
//!   out, as they are templates rather than builds. The settings do not apply
//!   to bake targets.
//!   A target that fails to resolve (cycle, unknown parent, bad value) is
//!   an error only when no other target builds the Dockerfile.
//! - Any other Dockerfile gets one build from the settings: context =
//!   `buildkit.build.context` against the workspace folder, else the
//!   Dockerfile's folder; `dockerfile` set when it is not
//!   `<context>/Dockerfile`.
//! - A bake `output` of `type=docker` without `dest` is buildx's `--load`
//!   and becomes `BuildSpec::load`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::attest::{parse_attests, AttestSpec};
use super::bake::{normalize, Bake, BakeErrorKind, BakeValue, Insertion, Origin, ResolvedTarget};
use super::options::{
    context_name, parse_platforms, CacheSpec, ContextSource, OutputSpec, SecretSource, SecretSpec,
};
use super::spec::BuildSpec;
use super::ssh::SshSpec;
use super::Error;

/// The `buildkit.build.*` settings of one workspace folder. A `null` value
/// (what editors send for an unset setting) means the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BuildSettings {
    /// The context, relative to the workspace folder.
    pub context: Option<String>,
    #[serde(deserialize_with = "null_is_default")]
    pub tags: Vec<String>,
    /// Platforms; an entry may hold several, comma-separated.
    #[serde(deserialize_with = "null_is_default")]
    pub platforms: Vec<String>,
    #[serde(deserialize_with = "null_is_default")]
    pub args: BTreeMap<String, String>,
    /// buildx `--output` CSV values.
    #[serde(deserialize_with = "null_is_default")]
    pub outputs: Vec<String>,
    /// buildx `--cache-to` CSV values.
    #[serde(deserialize_with = "null_is_default")]
    pub cache_to: Vec<String>,
    /// buildx `--cache-from` CSV values.
    #[serde(deserialize_with = "null_is_default")]
    pub cache_from: Vec<String>,
    /// Named contexts (`--build-context NAME=VALUE`), by name; relative
    /// directories are against the workspace folder.
    #[serde(deserialize_with = "null_is_default")]
    pub contexts: BTreeMap<String, String>,
    #[serde(deserialize_with = "null_is_default")]
    pub load: bool,
    /// buildx `--ssh` values (`default`, `ID=PATH[,PATH…]`); relative
    /// paths are against the workspace folder.
    #[serde(deserialize_with = "null_is_default")]
    pub ssh: Vec<String>,
    /// buildx `--attest` CSV values (`type=provenance,mode=max`).
    #[serde(deserialize_with = "null_is_default")]
    pub attest: Vec<String>,
}

fn null_is_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl BuildSettings {
    /// Reads the settings from the `buildkit` configuration section
    /// (`{"build": {...}, "buildOnSave": …}`); a missing `build` object
    /// means the defaults.
    pub fn from_section(section: &serde_json::Value) -> Result<BuildSettings, Error> {
        match section.get("build") {
            None | Some(serde_json::Value::Null) => Ok(BuildSettings::default()),
            Some(build) => BuildSettings::from_build_object(build),
        }
    }

    /// Reads the settings from the `buildkit.build` object itself.
    pub fn from_build_object(build: &serde_json::Value) -> Result<BuildSettings, Error> {
        BuildSettings::deserialize(build).map_err(|e| Error::Settings(e.to_string()))
    }
}

/// Where a configured build comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    Bake,
    Settings,
}

/// One build of a Dockerfile, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredBuild {
    /// What to call it: the bake target's name, else the Dockerfile's path
    /// relative to the workspace folder.
    pub label: String,
    pub bake_target: Option<String>,
    pub source: ConfigSource,
    pub spec: BuildSpec,
    /// The target block in the bake file.
    pub block: Option<Origin>,
    /// The name label of that block (where a finding about the whole
    /// target points).
    pub block_name: Option<Origin>,
    /// Where a new attribute goes in that block (for quick fixes).
    pub insertion: Option<Insertion>,
    /// Where each bake attribute was written, by its bake name (`context`,
    /// `dockerfile`, `target`, `platforms`, `args`, `tags`, `output`,
    /// `cache-to`, `cache-from`, `labels`, `no-cache`, `secret`, `ssh`,
    /// `attest`).
    pub origins: BTreeMap<String, Origin>,
}

impl ConfiguredBuild {
    /// Where a bake attribute was written, for builds from bake files.
    pub fn origin(&self, attr: &str) -> Option<&Origin> {
        self.origins.get(attr)
    }
}

/// The bake attributes turned into the spec (the others are ignored).
pub const BAKE_ATTRIBUTES: [&str; 15] = [
    "context",
    "dockerfile",
    "target",
    "platforms",
    "args",
    "tags",
    "output",
    "cache-to",
    "cache-from",
    "labels",
    "no-cache",
    "secret",
    "contexts",
    "ssh",
    "attest",
];

/// The builds configured for `dockerfile` in `workspace`: the bake targets
/// that build it, else one build from the settings and defaults.
pub fn configured_builds(
    dockerfile: &Path,
    workspace: &Path,
    bake: Option<&Bake>,
    settings: &BuildSettings,
) -> Result<Vec<ConfiguredBuild>, Error> {
    let dockerfile = normalize(dockerfile);
    if let Some(bake) = bake.filter(|b| !b.is_empty()) {
        let mut builds = Vec::new();
        let mut first_error = None;
        for name in buildable_targets(bake) {
            let built = bake.resolve(&name).and_then(|target| {
                match target.dockerfile_path()? == dockerfile {
                    true => from_target(&target).map(Some),
                    false => Ok(None),
                }
            });
            match built {
                Ok(Some(build)) => builds.push(build),
                Ok(None) => {}
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !builds.is_empty() {
            // A broken target elsewhere does not hide the ones that work.
            return Ok(builds);
        }
        if let Some(e) = first_error {
            // The broken target may be the one meant for this Dockerfile:
            // say so rather than fall back to the settings.
            return Err(e);
        }
    }
    Ok(vec![from_settings(&dockerfile, workspace, settings)?])
}

/// The build of one bake target (`buildkit.build {bakeTarget}`).
pub fn bake_target_spec(bake: &Bake, name: &str) -> Result<ConfiguredBuild, Error> {
    from_target(&bake.resolve(name)?)
}

/// The targets worth building: all but the pure templates (named in some
/// `inherits` and in no group).
fn buildable_targets(bake: &Bake) -> Vec<String> {
    let mut inherited: Vec<String> = Vec::new();
    for block in &bake.targets {
        if let Some(a) = block.attrs.get("inherits") {
            match &a.value {
                BakeValue::List(l) => inherited.extend(l.iter().cloned()),
                BakeValue::Str(s) => inherited.push(s.clone()),
                _ => {}
            }
        }
    }
    let grouped = |n: &str| bake.groups.iter().any(|g| g.targets.iter().any(|t| t == n));
    bake.target_names()
        .into_iter()
        .filter(|n| !inherited.contains(n) || grouped(n))
        .collect()
}

/// A bake target as a configured build.
pub fn from_target(target: &ResolvedTarget) -> Result<ConfiguredBuild, Error> {
    let invalid = |attr: &str, e: Error| Error::Bake {
        kind: BakeErrorKind::Invalid,
        origin: target
            .attr(attr)
            .map(|a| a.origin.clone())
            .unwrap_or_else(|| target.block.clone()),
        message: e.to_string(),
    };
    let context = target.context_dir()?;
    let dockerfile = target.dockerfile_path()?;
    let mut spec = BuildSpec::new(context.clone());
    if dockerfile != context.join("Dockerfile") {
        spec.dockerfile = Some(dockerfile);
    }
    spec.target = target.string("target")?.filter(|t| !t.is_empty());
    for p in target.list("platforms")? {
        spec.platforms
            .extend(parse_platforms(&p).map_err(|e| invalid("platforms", e))?);
    }
    spec.build_args = target.map("args")?;
    spec.labels = target.map("labels")?;
    spec.tags = target.list("tags")?;
    for o in target.list("output")? {
        let out = OutputSpec::parse(&o).map_err(|e| invalid("output", e))?;
        if out.kind == "docker" && out.dest().is_none() {
            // buildx's --load is `--set *.output=type=docker`.
            spec.load = true;
        } else {
            spec.outputs.push(out);
        }
    }
    for c in target.list("cache-to")? {
        spec.cache_to
            .push(CacheSpec::parse("--cache-to", &c).map_err(|e| invalid("cache-to", e))?);
    }
    for c in target.list("cache-from")? {
        spec.cache_from
            .push(CacheSpec::parse("--cache-from", &c).map_err(|e| invalid("cache-from", e))?);
    }
    for v in target.list("secret")? {
        let mut secret = SecretSpec::parse(&v).map_err(|e| invalid("secret", e))?;
        if let SecretSource::File(src) = &mut secret.source {
            // Relative to the bake file's folder (the folder bake runs in).
            *src = normalize(&target.base_dir.join(&*src));
        }
        spec.secrets.push(secret);
    }
    for (name, value) in target.map("contexts")? {
        let name = context_name(&name).map_err(|reason| Error::Bake {
            kind: BakeErrorKind::Invalid,
            origin: target
                .attr("contexts")
                .map(|a| a.origin.clone())
                .unwrap_or_else(|| target.block.clone()),
            message: reason,
        })?;
        let source = ContextSource::parse(&value).map_err(|e| invalid("contexts", e))?;
        // Directories are against the bake file's folder, as buildx
        // rebases them.
        spec.contexts
            .insert(name, rebase_context(source, &target.base_dir));
    }
    for v in target.list("ssh")? {
        let mut ssh = SshSpec::parse(&v);
        // Relative to the bake file's folder, like `secret` (an empty path
        // stays empty: the agent of SSH_AUTH_SOCK).
        for p in ssh.paths.iter_mut().filter(|p| !p.as_os_str().is_empty()) {
            *p = normalize(&target.base_dir.join(&*p));
        }
        crate::build::ssh::merge(&mut spec.ssh, ssh);
    }
    for v in target.list("attest")? {
        let a = AttestSpec::parse(&v).map_err(|e| invalid("attest", e))?;
        crate::build::attest::merge(&mut spec.attests, a);
    }
    spec.no_cache = target.bool("no-cache")?.unwrap_or(false);
    spec.network = target.string("network")?.filter(|n| !n.is_empty());
    let origins = BAKE_ATTRIBUTES
        .iter()
        .filter_map(|k| target.attr(k).map(|a| (k.to_string(), a.origin.clone())))
        .collect();
    Ok(ConfiguredBuild {
        label: target.name.clone(),
        bake_target: Some(target.name.clone()),
        source: ConfigSource::Bake,
        spec,
        block: Some(target.block.clone()),
        block_name: Some(target.name_origin.clone()),
        insertion: Some(target.insertion.clone()),
        origins,
    })
}

/// The build of a Dockerfile from the settings and defaults.
pub fn from_settings(
    dockerfile: &Path,
    workspace: &Path,
    settings: &BuildSettings,
) -> Result<ConfiguredBuild, Error> {
    let dockerfile = normalize(dockerfile);
    let context = match settings.context.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => normalize(&workspace.join(c)),
        None => dockerfile
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| workspace.to_path_buf()),
    };
    let mut spec = BuildSpec::new(context.clone());
    if dockerfile != context.join("Dockerfile") {
        spec.dockerfile = Some(dockerfile.clone());
    }
    let setting = |setting: &'static str| {
        move |source| Error::Setting {
            setting,
            source: Box::new(source),
        }
    };
    for p in &settings.platforms {
        spec.platforms
            .extend(parse_platforms(p).map_err(setting("platforms"))?);
    }
    spec.tags = settings.tags.clone();
    spec.build_args = settings.args.clone();
    for o in &settings.outputs {
        spec.outputs
            .push(OutputSpec::parse(o).map_err(setting("outputs"))?);
    }
    for c in &settings.cache_to {
        spec.cache_to
            .push(CacheSpec::parse("--cache-to", c).map_err(setting("cacheTo"))?);
    }
    for c in &settings.cache_from {
        spec.cache_from
            .push(CacheSpec::parse("--cache-from", c).map_err(setting("cacheFrom"))?);
    }
    for (name, value) in &settings.contexts {
        let name = context_name(name)
            .map_err(|reason| Error::Settings(format!("buildkit.build.contexts: {reason}")))?;
        let source = ContextSource::parse(value).map_err(setting("contexts"))?;
        spec.contexts
            .insert(name, rebase_context(source, workspace));
    }
    spec.load = settings.load;
    for v in settings.ssh.iter().filter(|v| !v.is_empty()) {
        let mut ssh = SshSpec::parse(v);
        for p in ssh.paths.iter_mut().filter(|p| !p.as_os_str().is_empty()) {
            *p = normalize(&workspace.join(&*p));
        }
        crate::build::ssh::merge(&mut spec.ssh, ssh);
    }
    spec.attests = parse_attests(&settings.attest, None, None).map_err(setting("attest"))?;
    Ok(ConfiguredBuild {
        label: relative_label(&dockerfile, workspace),
        bake_target: None,
        source: ConfigSource::Settings,
        spec,
        block: None,
        block_name: None,
        insertion: None,
        origins: BTreeMap::new(),
    })
}

/// A named context's directory (local or OCI layout) against `base`.
fn rebase_context(source: ContextSource, base: &Path) -> ContextSource {
    match source {
        ContextSource::Local(p) => ContextSource::Local(normalize(&base.join(p))),
        ContextSource::OciLayout { path, tag, digest } => ContextSource::OciLayout {
            path: normalize(&base.join(path)),
            tag,
            digest,
        },
        other => other,
    }
}

fn relative_label(dockerfile: &Path, workspace: &Path) -> String {
    let rel: PathBuf = dockerfile
        .strip_prefix(normalize(workspace))
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| dockerfile.to_path_buf());
    rel.to_string_lossy().into_owned()
}
