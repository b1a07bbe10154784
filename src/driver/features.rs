//! The driver capability table, as data. One table, used by the build (a
//! request the driver cannot serve is refused before any byte is sent), the
//! CLI and the editor's diagnostics, so all of them say the same thing.
//!
//! The rows follow buildx's driver feature matrix; the docker driver gains the
//! tarball, cache and multi-platform rows when the engine stores images in
//! containerd (buildx checks `DriverStatus` for the containerd snapshotter).

use std::fmt;

/// The kinds of builder driver buildx knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DriverKind {
    Docker,
    DockerContainer,
    Kubernetes,
    Remote,
}

impl DriverKind {
    /// Every kind, in the order of the table's columns.
    pub const ALL: [DriverKind; 4] = [
        DriverKind::Docker,
        DriverKind::DockerContainer,
        DriverKind::Kubernetes,
        DriverKind::Remote,
    ];

    /// The driver name as buildx spells it (`--driver`, instance files).
    pub fn name(self) -> &'static str {
        match self {
            DriverKind::Docker => "docker",
            DriverKind::DockerContainer => "docker-container",
            DriverKind::Kubernetes => "kubernetes",
            DriverKind::Remote => "remote",
        }
    }

    /// Parses a buildx driver name.
    pub fn from_name(name: &str) -> Option<DriverKind> {
        DriverKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The rows of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feature {
    /// The image lands in the engine's image store without `--load`.
    AutomaticLoad,
    /// `--cache-to` with a backend other than `inline`.
    CacheExport,
    /// `--output type=docker|oci`.
    TarballOutput,
    /// More than one `--platform`.
    MultiPlatform,
    /// A `buildkitd.toml` / buildkitd flags for the builder.
    BuildkitConfig,
    /// `--attest`, `--provenance`, `--sbom`: attestation manifests beside
    /// the image (buildx ties them to the multi-platform feature: they need
    /// an image index, which the classic image store cannot hold).
    Attestations,
}

impl Feature {
    /// Every row, in table order.
    pub const ALL: [Feature; 6] = [
        Feature::AutomaticLoad,
        Feature::CacheExport,
        Feature::TarballOutput,
        Feature::MultiPlatform,
        Feature::BuildkitConfig,
        Feature::Attestations,
    ];

    /// The feature's name as it starts a refusal message.
    pub fn title(self) -> &'static str {
        match self {
            Feature::AutomaticLoad => "Automatic --load",
            Feature::CacheExport => "Cache export",
            Feature::TarballOutput => "Docker/OCI tarball output",
            Feature::MultiPlatform => "Multi-platform build",
            Feature::BuildkitConfig => "BuildKit configuration",
            // buildx: `notSupported("Attestation", …)`.
            Feature::Attestations => "Attestation",
        }
    }
}

/// One cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    Yes,
    No,
    /// Cache export on the docker driver: only `type=inline`.
    InlineOnly,
    /// The remote driver's configuration lives with the remote daemon.
    ManagedExternally,
}

impl Support {
    /// How the cell reads in the table.
    pub fn label(self) -> &'static str {
        match self {
            Support::Yes => "yes",
            Support::No => "no",
            Support::InlineOnly => "inline only",
            Support::ManagedExternally => "managed externally",
        }
    }
}

/// The capability table itself: one row per feature, one column per driver
/// kind, for an engine without the containerd image store.
pub fn table(kind: DriverKind, feature: Feature) -> Support {
    use DriverKind::*;
    use Feature::*;
    match (feature, kind) {
        (AutomaticLoad, Docker) => Support::Yes,
        (AutomaticLoad, _) => Support::No,
        (CacheExport, Docker) => Support::InlineOnly,
        (CacheExport, _) => Support::Yes,
        (TarballOutput, Docker) | (MultiPlatform, Docker) | (Attestations, Docker) => Support::No,
        (TarballOutput, _) | (MultiPlatform, _) | (Attestations, _) => Support::Yes,
        (BuildkitConfig, Docker) => Support::No,
        (BuildkitConfig, Remote) => Support::ManagedExternally,
        (BuildkitConfig, _) => Support::Yes,
    }
}

/// What one builder can do: its driver kind, for the docker driver whether
/// the engine uses the containerd image store, and whether a build without
/// an output loads its image (the driver-opt `default-load`, buildx's
/// `DefaultLoad` feature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    pub kind: DriverKind,
    pub containerd_store: bool,
    pub default_load: bool,
}

impl Features {
    /// The features of a driver kind on a classic (non-containerd) engine,
    /// without `default-load`.
    pub fn of(kind: DriverKind) -> Features {
        Features {
            kind,
            containerd_store: false,
            default_load: false,
        }
    }

    /// The most a driver of `kind` may turn out to offer once it answers
    /// (the docker engine's containerd image store): what this refuses,
    /// no daemon of that kind can do.
    pub fn best_of(kind: DriverKind) -> Features {
        Features {
            containerd_store: true,
            ..Features::of(kind)
        }
    }

    /// Whether images land in the engine's image store by themselves: then
    /// `--load` needs no export, and `--push` goes through the engine.
    pub fn loads_into_engine(&self) -> bool {
        self.support(Feature::AutomaticLoad) == Support::Yes
    }

    /// The cell for this builder, the containerd store taken into account.
    pub fn support(&self, feature: Feature) -> Support {
        let base = table(self.kind, feature);
        if self.kind == DriverKind::Docker && self.containerd_store {
            // buildx: the containerd store lifts the exporter, cache,
            // multi-platform and attestation limits of the docker driver.
            if matches!(
                feature,
                Feature::CacheExport
                    | Feature::TarballOutput
                    | Feature::MultiPlatform
                    | Feature::Attestations
            ) {
                return Support::Yes;
            }
        }
        base
    }

    /// A refusal for a feature this builder lacks.
    pub fn refuse(&self, feature: Feature) -> Refusal {
        Refusal {
            feature,
            subject: feature.title(),
            driver: self.kind,
        }
    }

    /// A refusal of a tarball exporter (`type=oci` or `type=docker`), named
    /// by its exporter as buildx names it.
    pub fn refuse_exporter(&self, exporter: &str) -> Refusal {
        Refusal {
            subject: match exporter {
                "oci" => "OCI exporter",
                "docker" => "Docker exporter",
                _ => Feature::TarballOutput.title(),
            },
            ..self.refuse(Feature::TarballOutput)
        }
    }
}

/// A request the selected driver cannot serve: a row of the table, as data
/// (the editor's findings and the build both read it). Its `Display` is
/// buildx's message, word for word and line for line (buildx 0.13.1 on
/// Engine 20.10 prints the same three lines; see docs/drivers.md), the same
/// text in the CLI and the build. Not an error type of its own: a build
/// refused with it fails with the builder layer's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub feature: Feature,
    /// What is refused, as the message names it: the feature's title, or
    /// the exporter (`OCI exporter`).
    pub subject: &'static str,
    pub driver: DriverKind,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not supported for the {} driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.{}",
            self.subject,
            self.driver,
            learn_more(self.feature)
        )
    }
}

/// buildx's "Learn more" line of a refusal.
fn learn_more(feature: Feature) -> &'static str {
    match feature {
        Feature::CacheExport => "\nLearn more at https://docs.docker.com/go/build-cache-backends/",
        Feature::TarballOutput => "\nLearn more at https://docs.docker.com/go/build-exporters/",
        Feature::MultiPlatform => {
            "\nLearn more at https://docs.docker.com/go/build-multi-platform/"
        }
        Feature::Attestations => "\nLearn more at https://docs.docker.com/go/attestations/",
        Feature::AutomaticLoad | Feature::BuildkitConfig => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_matches_the_issue_for_every_cell() {
        let expected: [(Feature, [&str; 4]); 6] = [
            (Feature::AutomaticLoad, ["yes", "no", "no", "no"]),
            (Feature::CacheExport, ["inline only", "yes", "yes", "yes"]),
            (Feature::TarballOutput, ["no", "yes", "yes", "yes"]),
            (Feature::MultiPlatform, ["no", "yes", "yes", "yes"]),
            (
                Feature::BuildkitConfig,
                ["no", "yes", "yes", "managed externally"],
            ),
            (Feature::Attestations, ["no", "yes", "yes", "yes"]),
        ];
        for (feature, cells) in expected {
            for (kind, cell) in DriverKind::ALL.into_iter().zip(cells) {
                assert_eq!(table(kind, feature).label(), cell, "{feature:?} {kind}");
            }
        }
    }

    #[test]
    fn containerd_store_lifts_docker_limits() {
        let f = Features {
            containerd_store: true,
            ..Features::of(DriverKind::Docker)
        };
        assert_eq!(f.support(Feature::MultiPlatform), Support::Yes);
        assert_eq!(f.support(Feature::CacheExport), Support::Yes);
        assert_eq!(f.support(Feature::Attestations), Support::Yes);
        assert_eq!(f.support(Feature::BuildkitConfig), Support::No);
    }

    #[test]
    fn refusal_reads_like_buildx() {
        let r = Features::of(DriverKind::Docker).refuse(Feature::CacheExport);
        assert_eq!(
            r.to_string(),
            "Cache export is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\nLearn more at https://docs.docker.com/go/build-cache-backends/"
        );
    }

    /// buildx 0.13.1 and v0.36, `build/opt.go`: `notSupported("Attestation",
    /// nodeDriver, "https://docs.docker.com/go/attestations/")`.
    #[test]
    fn attestation_refusal_reads_like_buildx() {
        let r = Features::of(DriverKind::Docker).refuse(Feature::Attestations);
        assert_eq!(
            r.to_string(),
            "Attestation is not supported for the docker driver.\nSwitch to a different driver, or turn on the containerd image store, and try again.\nLearn more at https://docs.docker.com/go/attestations/"
        );
    }

    #[test]
    fn driver_names_round_trip() {
        for k in DriverKind::ALL {
            assert_eq!(DriverKind::from_name(k.name()), Some(k));
        }
        assert_eq!(DriverKind::from_name("podman"), None);
    }
}
