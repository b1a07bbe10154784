//! The `BuildSpec`: everything one build asks for, independent of where it
//! runs. `refusals` lists what the selected driver cannot do (the refusal
//! rules, written once; `check` refuses the build with the first, before
//! any byte is sent), and the `*_attrs`/`exports` functions turn the spec into the
//! frontend attributes and exporters of BuildKit's `SolveRequest`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::driver::{Feature, Features, Refusal, Support};

use super::attest::AttestSpec;
use super::options::{CacheSpec, ContextSource, OutputSpec, SecretSpec};
use super::ssh::SshSpec;

/// One build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildSpec {
    /// The build context directory.
    pub context: PathBuf,
    /// `-f`: the Dockerfile; `None` means `<context>/Dockerfile`.
    pub dockerfile: Option<PathBuf>,
    pub target: Option<String>,
    pub platforms: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub tags: Vec<String>,
    pub secrets: Vec<SecretSpec>,
    pub no_cache: bool,
    pub outputs: Vec<OutputSpec>,
    pub cache_to: Vec<CacheSpec>,
    pub cache_from: Vec<CacheSpec>,
    pub load: bool,
    pub push: bool,
    /// `--network`: the network mode of every RUN (`default`, `none`, `host`).
    pub network: Option<String>,
    /// `--build-context` / bake `contexts`: named contexts by (normalised)
    /// name.
    pub contexts: BTreeMap<String, ContextSource>,
    /// `--ssh`: the agents `RUN --mount=type=ssh` reaches, by id.
    pub ssh: Vec<SshSpec>,
    /// `--attest`, `--provenance`, `--sbom` (disabled entries included: they
    /// say "not this one", and send nothing).
    pub attests: Vec<AttestSpec>,
}

/// A refusal of one part of a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecRefusal {
    pub refusal: Refusal,
    pub asked_by: AskedBy,
}

/// The part of a `BuildSpec` a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AskedBy {
    /// More than one platform.
    Platforms,
    /// `outputs[i]`.
    Output(usize),
    /// `cache_to[i]`.
    CacheTo(usize),
    /// `attests[i]`.
    Attest(usize),
}

/// One exporter of the solve, resolved for a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// BuildKit's exporter name: `moby`, `image`, `docker`, `oci`, `local`, `tar`.
    pub kind: String,
    pub attrs: BTreeMap<String, String>,
    /// Where the session's file send writes it (`local`: a directory; the
    /// tarball exporters: a file, `-` for stdout), or, for an OCI layout
    /// (`tar=false`), the layout directory the content store writes.
    pub dest: Option<PathBuf>,
}

impl Export {
    /// Whether this is an `oci`/`docker` exporter writing an OCI layout
    /// directory (`tar=false`) through the session content store rather
    /// than a tarball through the file send.
    pub fn is_layout(&self) -> bool {
        super::options::writes_layout(&self.kind, &self.attrs)
    }
}

/// The file sync name of a local named context: its name, with `_` before
/// `context` and `dockerfile` so it cannot clash with the build's own
/// directories (buildx's rule).
pub fn local_context_dir_name(name: &str) -> String {
    match name {
        "context" | "dockerfile" => format!("_{name}"),
        n => n.to_string(),
    }
}

impl BuildSpec {
    /// A spec for `context` with everything else defaulted.
    pub fn new(context: impl Into<PathBuf>) -> BuildSpec {
        BuildSpec {
            context: context.into(),
            ..BuildSpec::default()
        }
    }

    /// The Dockerfile's path.
    pub fn dockerfile_path(&self) -> PathBuf {
        match &self.dockerfile {
            Some(f) if f.is_absolute() => f.clone(),
            // buildx resolves -f against the working directory, not the
            // context; keep relative paths as given.
            Some(f) => f.clone(),
            None => self.context.join("Dockerfile"),
        }
    }

    /// Everything in this build a driver with `features` refuses, in
    /// buildx's order (platforms, outputs, cache exports), each with the
    /// part of the spec that asks for it. The one copy of the refusal
    /// rules: the build (`check`), the CLI and the editor's capability
    /// findings all read them here.
    ///
    /// A feature counts as served only where its cell says `yes` (buildx's
    /// feature map is true or absent); cache export also takes `inline
    /// only` for `type=inline`.
    pub fn refusals(&self, features: &Features) -> Vec<SpecRefusal> {
        let lacks = |f: Feature| features.support(f) != Support::Yes;
        let mut out = Vec::new();
        if self.platforms.len() > 1 && lacks(Feature::MultiPlatform) {
            out.push(SpecRefusal {
                refusal: features.refuse(Feature::MultiPlatform),
                asked_by: AskedBy::Platforms,
            });
        }
        if lacks(Feature::Attestations) {
            // buildx refuses the build at its first enabled attestation.
            if let Some(i) = self.attests.iter().position(|a| !a.disabled) {
                out.push(SpecRefusal {
                    refusal: features.refuse(Feature::Attestations),
                    asked_by: AskedBy::Attest(i),
                });
            }
        }
        for (i, o) in self.outputs.iter().enumerate() {
            let tarball = match o.kind.as_str() {
                "oci" => true,
                // Where images land in the engine, `type=docker` without
                // dest is a load.
                "docker" => o.dest().is_some() || !features.loads_into_engine(),
                _ => false,
            };
            if tarball && lacks(Feature::TarballOutput) {
                out.push(SpecRefusal {
                    refusal: features.refuse_exporter(&o.kind),
                    asked_by: AskedBy::Output(i),
                });
            }
        }
        let cache = features.support(Feature::CacheExport);
        for (i, c) in self.cache_to.iter().enumerate() {
            let refused = match cache {
                Support::Yes => false,
                Support::InlineOnly => c.kind != "inline",
                Support::No | Support::ManagedExternally => true,
            };
            if refused {
                out.push(SpecRefusal {
                    refusal: features.refuse(Feature::CacheExport),
                    asked_by: AskedBy::CacheTo(i),
                });
            }
        }
        out
    }

    /// Refuses a request the driver cannot serve, with buildx's message:
    /// the first of [`BuildSpec::refusals`].
    pub fn check(&self, features: &Features) -> Result<(), Refusal> {
        match self.refusals(features).into_iter().next() {
            Some(r) => Err(r.refusal),
            None => Ok(()),
        }
    }

    /// What a refusal's part of the spec says, for messages: the
    /// platforms, or `type=…` of the output or cache export.
    pub fn asked(&self, by: AskedBy) -> String {
        match by {
            AskedBy::Platforms => self.platforms.join(", "),
            AskedBy::Output(i) => format!("type={}", self.outputs[i].kind),
            AskedBy::CacheTo(i) => format!("type={}", self.cache_to[i].kind),
            AskedBy::Attest(i) => format!("type={}", self.attests[i].kind),
        }
    }

    /// The frontend attributes of the Dockerfile frontend (`dockerfile.v0`).
    pub fn frontend_attrs(&self) -> BTreeMap<String, String> {
        let mut attrs = BTreeMap::new();
        let filename = self
            .dockerfile_path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".to_string());
        attrs.insert("filename".to_string(), filename);
        if let Some(t) = &self.target {
            attrs.insert("target".to_string(), t.clone());
        }
        if !self.platforms.is_empty() {
            attrs.insert("platform".to_string(), self.platforms.join(","));
        }
        for (k, v) in &self.build_args {
            attrs.insert(format!("build-arg:{k}"), v.clone());
        }
        for (k, v) in &self.labels {
            attrs.insert(format!("label:{k}"), v.clone());
        }
        if self.no_cache {
            attrs.insert("no-cache".to_string(), String::new());
        }
        for a in self.attests.iter().filter(|a| !a.disabled) {
            attrs.insert(format!("attest:{}", a.kind), a.frontend_value());
        }
        if let Some(n) = self.network.as_deref().filter(|n| *n != "default") {
            attrs.insert("force-network-mode".to_string(), n.to_string());
        }
        for (name, source) in &self.contexts {
            // BuildKit's frontend forwards named contexts to the frontend
            // of a `# syntax=` image only with this capability requested.
            attrs.insert(
                "frontend.caps".to_string(),
                "moby.buildkit.frontend.contexts+forward".to_string(),
            );
            let value = match source {
                ContextSource::Passthrough(v) => v.clone(),
                ContextSource::Local(_) => format!("local:{}", local_context_dir_name(name)),
                // Resolved against its directory when the session is made
                // (the store id and the digest): `Client::build`.
                ContextSource::OciLayout { .. } => continue,
            };
            attrs.insert(format!("context:{name}"), value);
        }
        if !self.cache_from.is_empty() {
            // The frontend resolves the imports itself (inline caches need
            // it): BuildKit's client passes them as JSON CacheOptionsEntry.
            attrs.insert(
                "cache-imports".to_string(),
                cache_imports_json(&self.cache_from),
            );
        }
        attrs
    }

    /// buildx's warning for a build through a non-docker driver whose result
    /// goes nowhere (no `--output`, `--load` or `--push`).
    pub fn no_output_warning(&self, features: &Features) -> Option<String> {
        let nothing = self.outputs.is_empty() && !self.load && !self.push;
        (!features.loads_into_engine() && nothing).then(|| {
            format!(
                "No output specified with {} driver. Build result will only remain in the build cache. To push result image into registry use --push or to load image into docker use --load",
                features.kind
            )
        })
    }

    /// The image names a build pushes: the tags with `--push`, and the
    /// `name=` (else the tags) of every `type=registry` or
    /// `type=image,push=true` output. In order, without repeats.
    pub fn push_refs(&self) -> Vec<String> {
        let mut refs: Vec<String> = Vec::new();
        let mut add = |names: &mut dyn Iterator<Item = &str>| {
            for n in names.map(str::trim).filter(|n| !n.is_empty()) {
                if !refs.iter().any(|r| r == n) {
                    refs.push(n.to_string());
                }
            }
        };
        if self.push {
            add(&mut self.tags.iter().map(String::as_str));
        }
        for o in &self.outputs {
            let pushes = o.kind == "registry"
                || (o.kind == "image" && o.attrs.get("push").is_some_and(|p| p == "true"));
            if !pushes {
                continue;
            }
            match o.attrs.get("name") {
                Some(names) => add(&mut names.split(',')),
                None => add(&mut self.tags.iter().map(String::as_str)),
            }
        }
        refs
    }

    /// The exporter type of the first output written to stdout (`dest=-`,
    /// or `tar`/`oci` without dest), for buildx's refusal to write a
    /// tarball to a terminal.
    pub fn stdout_output(&self) -> Option<&str> {
        self.outputs
            .iter()
            .find(|o| {
                !o.is_layout()
                    && matches!(
                        (o.kind.as_str(), o.dest()),
                        ("tar" | "oci" | "docker", Some("-")) | ("tar" | "oci", None)
                    )
            })
            .map(|o| o.kind.as_str())
    }

    /// The exporters for a driver. With no output given, a driver whose
    /// images land in the engine (docker) loads there (`moby`); other
    /// drivers export nothing unless `--load`/`--push` ask.
    pub fn exports(&self, features: &Features) -> Vec<Export> {
        let docker = features.loads_into_engine();
        let names = self.tags.join(",");
        let with_name = |mut attrs: BTreeMap<String, String>| {
            if !names.is_empty() && !attrs.contains_key("name") {
                attrs.insert("name".into(), names.clone());
            }
            attrs
        };
        let mut out = Vec::new();
        for o in &self.outputs {
            let mut attrs = o.attrs.clone();
            let mut dest = attrs.remove("dest").map(PathBuf::from);
            let layout = o.is_layout();
            if dest.is_none() && !layout && matches!(o.kind.as_str(), "tar" | "oci") {
                // buildx: a tarball without dest goes to stdout.
                dest = Some(PathBuf::from("-"));
            }
            let kind = match o.kind.as_str() {
                "registry" => {
                    attrs.insert("push".into(), "true".into());
                    "image"
                }
                k => k,
            };
            let kind = match (kind, docker, &dest) {
                // The docker driver's image store is the engine's: BuildKit
                // calls that exporter `moby`.
                ("image", true, _) => "moby",
                ("docker", true, None) if !layout => "moby",
                (k, _, _) => k,
            };
            if kind == "cacheonly" {
                continue;
            }
            let attrs = if matches!(kind, "moby" | "image" | "docker" | "oci") {
                with_name(attrs)
            } else {
                attrs
            };
            out.push(Export {
                kind: kind.to_string(),
                attrs,
                dest,
            });
        }
        fn has(out: &[Export], k: &str) -> bool {
            out.iter().any(|e| e.kind == k)
        }
        if self.push && !has(&out, "image") && !has(&out, "moby") {
            let mut attrs = with_name(BTreeMap::new());
            attrs.insert("push".into(), "true".into());
            let kind = if docker { "moby" } else { "image" };
            out.push(Export {
                kind: kind.into(),
                attrs,
                dest: None,
            });
        } else if self.push {
            for e in out
                .iter_mut()
                .filter(|e| e.kind == "image" || e.kind == "moby")
            {
                e.attrs.insert("push".into(), "true".into());
            }
        }
        if docker && self.outputs.is_empty() && !has(&out, "moby") {
            out.push(Export {
                kind: "moby".into(),
                attrs: with_name(BTreeMap::new()),
                dest: None,
            });
        }
        if !docker && self.load && !has(&out, "docker") {
            out.push(Export {
                kind: "docker".into(),
                attrs: with_name(BTreeMap::new()),
                dest: None,
            });
        }
        out
    }
}

/// `cache-imports` as BuildKit's client writes it: a JSON list of
/// `{"Type":…,"Attrs":{…}}` (Go's encoding of `CacheOptionsEntry`).
fn cache_imports_json(imports: &[CacheSpec]) -> String {
    #[derive(serde::Serialize)]
    struct Entry<'a> {
        #[serde(rename = "Type")]
        kind: &'a str,
        #[serde(rename = "Attrs")]
        attrs: &'a BTreeMap<String, String>,
    }
    let entries: Vec<Entry<'_>> = imports
        .iter()
        .map(|c| Entry {
            kind: &c.kind,
            attrs: &c.attrs,
        })
        .collect();
    // Serializing strings and string maps cannot fail.
    serde_json::to_string(&entries).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::DriverKind;

    fn docker() -> Features {
        Features::of(DriverKind::Docker)
    }

    /// buildx's feature map holds a feature only where it is supported, so
    /// a feature is lacking wherever its cell is not `yes` (not only where
    /// it says `no`); the editor's findings once used that rule and the
    /// build the other. Both read `refusals` now.
    #[test]
    fn a_feature_is_served_only_where_its_cell_says_yes() {
        let mut s = BuildSpec::new("/c");
        s.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
        s.outputs = vec![OutputSpec::parse("type=oci,dest=o.tar").unwrap()];
        s.cache_to = vec![CacheSpec::parse("--cache-to", "type=registry,ref=r/c").unwrap()];
        for kind in DriverKind::ALL {
            for containerd_store in [false, true] {
                let f = Features {
                    containerd_store,
                    ..Features::of(kind)
                };
                let refused: Vec<Feature> =
                    s.refusals(&f).iter().map(|r| r.refusal.feature).collect();
                let expected: Vec<Feature> = [
                    Feature::MultiPlatform,
                    Feature::TarballOutput,
                    Feature::CacheExport,
                ]
                .into_iter()
                .filter(|x| f.support(*x) != Support::Yes)
                .collect();
                assert_eq!(refused, expected, "{kind} containerd={containerd_store}");
                assert_eq!(
                    s.check(&f).err(),
                    s.refusals(&f).first().map(|r| r.refusal.clone())
                );
            }
        }
        // inline cache is what `inline only` serves
        s.cache_to = vec![CacheSpec::parse("--cache-to", "type=inline").unwrap()];
        s.platforms.truncate(1);
        s.outputs.clear();
        assert!(s.refusals(&docker()).is_empty());
        assert_eq!(s.asked(AskedBy::CacheTo(0)), "type=inline");
    }

    #[test]
    fn docker_driver_refuses_three_things_with_their_feature() {
        let mut s = BuildSpec::new(".");
        s.cache_to = vec![CacheSpec::parse("--cache-to", "type=local,dest=c").unwrap()];
        assert_eq!(
            s.check(&docker()).unwrap_err().feature,
            Feature::CacheExport
        );

        let mut s = BuildSpec::new(".");
        s.outputs = vec![OutputSpec::parse("type=oci,dest=x.tar").unwrap()];
        let e = s.check(&docker()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "OCI exporter is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\nLearn more at https://docs.docker.com/go/build-exporters/"
        );

        let mut s = BuildSpec::new(".");
        s.platforms = vec!["linux/amd64".into(), "linux/arm64".into()];
        assert_eq!(
            s.check(&docker()).unwrap_err().feature,
            Feature::MultiPlatform
        );
    }

    #[test]
    fn docker_driver_accepts_what_it_can_do() {
        let mut s = BuildSpec::new(".");
        s.cache_to = vec![CacheSpec::parse("--cache-to", "type=inline").unwrap()];
        s.outputs = vec![
            OutputSpec::parse("type=docker").unwrap(),
            OutputSpec::parse("type=local,dest=out").unwrap(),
        ];
        s.platforms = vec!["linux/amd64".into()];
        assert_eq!(s.check(&docker()), Ok(()));
        // A containerd-store engine may do all of it.
        s.platforms.push("linux/arm64".into());
        let f = Features {
            containerd_store: true,
            ..Features::of(DriverKind::Docker)
        };
        assert_eq!(s.check(&f), Ok(()));
        assert!(s.check(&Features::of(DriverKind::Remote)).is_ok());
    }

    #[test]
    fn frontend_attrs_of_a_full_spec() {
        let mut s = BuildSpec::new("/ctx");
        s.dockerfile = Some("/ctx/build/App.Dockerfile".into());
        s.target = Some("final".into());
        s.platforms = vec!["linux/amd64".into()];
        s.build_args.insert("V".into(), "1".into());
        s.labels.insert("org.x".into(), "y".into());
        s.no_cache = true;
        s.network = Some("none".into());
        let a = s.frontend_attrs();
        let expected: BTreeMap<String, String> = [
            ("build-arg:V", "1"),
            ("filename", "App.Dockerfile"),
            ("force-network-mode", "none"),
            ("label:org.x", "y"),
            ("no-cache", ""),
            ("platform", "linux/amd64"),
            ("target", "final"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(a, expected);
    }

    #[test]
    fn attestations_become_frontend_attrs_and_the_classic_store_refuses_them() {
        let mut s = BuildSpec::new(".");
        s.attests = crate::build::attest::parse_attests(
            &["type=sbom,disabled=true".into()],
            Some("mode=max"),
            None,
        )
        .unwrap();
        let a = s.frontend_attrs();
        assert_eq!(a["attest:provenance"], "type=provenance,mode=max");
        assert!(!a.contains_key("attest:sbom"), "{a:?}");
        let r = s.refusals(&docker());
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].refusal.feature, Feature::Attestations);
        // the disabled sbom is not what is refused
        assert_eq!(s.asked(r[0].asked_by), "type=provenance");
        let store = Features {
            containerd_store: true,
            ..docker()
        };
        assert!(s.refusals(&store).is_empty());
        assert!(s.refusals(&Features::of(DriverKind::Remote)).is_empty());
        // only disabled ones: nothing is asked, nothing refused
        s.attests.retain(|a| a.disabled);
        assert!(s.refusals(&docker()).is_empty());
    }

    #[test]
    fn docker_driver_exports_to_moby_with_tags() {
        let mut s = BuildSpec::new(".");
        s.tags = vec!["a:1".into(), "b:2".into()];
        let e = s.exports(&docker());
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].kind, "moby");
        assert_eq!(e[0].attrs["name"], "a:1,b:2");
        s.push = true;
        let e = s.exports(&docker());
        assert_eq!(e[0].attrs["push"], "true");
    }

    #[test]
    fn push_refs_from_flag_and_outputs() {
        let mut s = BuildSpec::new(".");
        s.tags = vec!["r/a:1".into()];
        assert!(s.push_refs().is_empty());
        s.outputs = vec![
            OutputSpec::parse("type=registry").unwrap(),
            OutputSpec::parse("type=image,\"name=r/b:1,r/a:1\",push=true").unwrap(),
            OutputSpec::parse("type=image,name=r/c:1").unwrap(),
        ];
        assert_eq!(s.push_refs(), vec!["r/a:1", "r/b:1"]);
        s.outputs.clear();
        s.push = true;
        assert_eq!(s.push_refs(), vec!["r/a:1"]);
    }

    #[test]
    fn tarballs_without_dest_go_to_stdout() {
        let mut s = BuildSpec::new(".");
        s.outputs = vec![OutputSpec::parse("type=oci").unwrap()];
        let e = s.exports(&Features::of(DriverKind::Remote));
        assert_eq!(e[0].dest, Some(PathBuf::from("-")));
        assert_eq!(s.stdout_output(), Some("oci"));
        s.outputs = vec![OutputSpec::parse("type=docker").unwrap()];
        assert_eq!(s.stdout_output(), None);
        s.outputs = vec![OutputSpec::parse("type=docker,dest=-").unwrap()];
        assert_eq!(s.stdout_output(), Some("docker"));
    }

    #[test]
    fn layout_outputs_are_directories_never_stdout() {
        let mut s = BuildSpec::new(".");
        s.outputs = vec![OutputSpec::parse("type=oci,tar=false").unwrap()];
        assert_eq!(s.stdout_output(), None);
        let e = s.exports(&Features::of(DriverKind::Remote));
        assert!(e[0].is_layout());
        assert_eq!(e[0].dest, None);
        // On the docker driver, `type=docker,tar=false` is the docker
        // exporter writing a layout, not a load into the engine.
        s.outputs = vec![OutputSpec::parse("type=docker,tar=false,dest=d").unwrap()];
        let e = s.exports(&docker());
        assert_eq!(e[0].kind, "docker");
        assert!(e[0].is_layout());
        assert_eq!(e[0].attrs["tar"], "false");
        assert_eq!(e[0].dest, Some(PathBuf::from("d")));
        // buildx takes an unparsable `tar` as true.
        s.outputs = vec![OutputSpec::parse("type=oci,tar=no,dest=o.tar").unwrap()];
        assert!(!s.exports(&docker())[0].is_layout());
    }

    #[test]
    fn outputs_map_to_exporters() {
        let mut s = BuildSpec::new(".");
        s.tags = vec!["r/x".into()];
        s.outputs = vec![
            OutputSpec::parse("type=registry").unwrap(),
            OutputSpec::parse("type=tar,dest=o.tar").unwrap(),
        ];
        let e = s.exports(&Features::of(DriverKind::Remote));
        assert_eq!(e[0].kind, "image");
        assert_eq!(e[0].attrs["push"], "true");
        assert_eq!(e[0].attrs["name"], "r/x");
        assert_eq!(e[1].kind, "tar");
        assert_eq!(e[1].dest, Some(PathBuf::from("o.tar")));
        assert!(e[1].attrs.is_empty());
        // No output on a non-docker driver exports nothing; --load adds docker.
        let mut s = BuildSpec::new(".");
        assert!(s.exports(&Features::of(DriverKind::Remote)).is_empty());
        s.load = true;
        assert_eq!(
            s.exports(&Features::of(DriverKind::Remote))[0].kind,
            "docker"
        );
    }
}
