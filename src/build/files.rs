//! The files that configure builds in a folder, and their precedence, as
//! `docker buildx bake` reads a folder without `-f`: the Compose files
//! first, then the bake files, all merged into one definition. The
//! Compose services become targets of the `default` group; a bake target
//! of the same name is read after them and overrides them attribute by
//! attribute (buildx parses the HCL with the Compose config as its base).
//! So a bake file in the folder wins over a Compose file wherever both
//! configure the same target, and a Compose service nobody overrides
//! builds as Compose says.
//!
//! Which Compose files: those `docker compose` reads (the first main name
//! and the first override, `build::compose::select`); buildx itself reads
//! every main name present and no override.
//!
//! The `.env` file of the folder feeds Compose interpolation only, below
//! the process environment; it is among the sources only when the caller
//! may read it (a trusted workspace).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::bake::{bake_file_paths, is_bake_file, Bake, BakeSource};
use super::compose::{self, is_compose_file};
use super::Error;

/// The paths the build configuration files of a folder would have, in
/// reading order; the caller reads those that exist.
pub fn definition_file_paths(folder: &Path) -> Vec<PathBuf> {
    let mut out = compose::compose_file_paths(folder);
    out.extend(bake_file_paths(folder));
    out
}

/// The `.env` file of a folder.
pub fn dotenv_path(folder: &Path) -> PathBuf {
    folder.join(compose::DOTENV)
}

/// Whether a path names a build configuration file (Compose or bake).
pub fn is_definition_file(path: &Path) -> bool {
    is_bake_file(path) || is_compose_file(path)
}

/// The merged definition of the files among `sources` (any order; a
/// `.env` source feeds Compose interpolation). `env`: the process
/// environment, or `None` for a static read (nothing evaluated, see
/// `Bake::parse_static`).
pub fn parse(
    sources: &[BakeSource],
    env: Option<&BTreeMap<String, String>>,
) -> Result<Bake, Error> {
    let name_of = |s: &BakeSource| {
        s.path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
    };
    let bake_sources: Vec<BakeSource> = super::bake::BAKE_FILE_NAMES
        .iter()
        .filter_map(|n| sources.iter().find(|s| name_of(s).as_deref() == Some(n)))
        .cloned()
        .collect();
    let compose_sources = compose::select(sources);
    let dotenv = sources
        .iter()
        .find(|s| name_of(s).as_deref() == Some(compose::DOTENV))
        .map(|s| s.text.as_str());
    merge(&bake_sources, &compose_sources, env, dotenv)
}

/// The merged definition of files named explicitly (`bake -f FILE…`):
/// YAML files are Compose files merged in the order given (as `docker
/// compose -f a -f b`), the others bake files, also in order.
pub fn parse_explicit(
    sources: &[BakeSource],
    dotenv: Option<&str>,
    env: Option<&BTreeMap<String, String>>,
) -> Result<Bake, Error> {
    let yaml = |s: &BakeSource| {
        s.path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("yml") || e.eq_ignore_ascii_case("yaml"))
    };
    let compose_sources: Vec<&BakeSource> = sources.iter().filter(|s| yaml(s)).collect();
    let bake_sources: Vec<BakeSource> = sources.iter().filter(|s| !yaml(s)).cloned().collect();
    merge(&bake_sources, &compose_sources, env, dotenv)
}

/// Compose targets first, bake targets after them.
fn merge(
    bake_sources: &[BakeSource],
    compose_sources: &[&BakeSource],
    env: Option<&BTreeMap<String, String>>,
    dotenv: Option<&str>,
) -> Result<Bake, Error> {
    let mut bake = match (bake_sources.is_empty(), env) {
        (true, _) => Bake::default(),
        (false, Some(env)) => Bake::parse(bake_sources, env)?,
        (false, None) => Bake::parse_static(bake_sources)?,
    };
    if compose_sources.is_empty() {
        return Ok(bake);
    }
    let compose_env = env.map(|e| compose::environment(e.clone(), dotenv));
    let c = compose::parse(compose_sources, compose_env.as_ref())?;
    let mut files = c.files;
    files.append(&mut bake.files);
    bake.files = files;
    let mut targets = c.targets;
    targets.append(&mut bake.targets);
    bake.targets = targets;
    if let Some(g) = c.group {
        bake.groups.insert(0, g);
    }
    let mut errors = c.errors;
    errors.append(&mut bake.errors);
    bake.errors = errors;
    Ok(bake)
}
