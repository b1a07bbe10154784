//! A temporary home for tests that run the real binary (or server) on a
//! docker config dir and buildx store of their own, with nothing of the
//! caller's builder selection leaking in. Test files add their own methods
//! in an `impl Home` block (same test crate).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `HOME`, `DOCKER_CONFIG` (`<home>/docker`) and the buildx store
/// (`<home>/docker/buildx`) in one temporary directory; the engine at
/// `docker_host`, or none.
pub struct Home {
    pub dir: tempfile::TempDir,
    pub docker_host: Option<String>,
}

impl Home {
    /// A home without an engine (`DOCKER_HOST` unset).
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            docker_host: None,
        }
    }

    /// A home whose docker engine is the test engine.
    pub fn with_engine(engine: &super::DockerEndpoint) -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
            docker_host: Some(engine.docker_host()),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn docker_config(&self) -> PathBuf {
        self.path().join("docker")
    }

    pub fn buildx(&self) -> PathBuf {
        self.docker_config().join("buildx")
    }

    /// The environment as a list (for a spawned server); an empty value
    /// counts as unset, so the caller's selection cannot leak in.
    pub fn envs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("HOME", self.path().display().to_string()),
            ("DOCKER_CONFIG", self.docker_config().display().to_string()),
            ("BUILDX_CONFIG", self.buildx().display().to_string()),
            ("DOCKER_HOST", self.docker_host.clone().unwrap_or_default()),
            ("BUILDX_BUILDER", String::new()),
            ("DOCKER_CONTEXT", String::new()),
            ("BUILDKIT_HOST", String::new()),
        ]
    }

    /// The binary with this home's environment.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_buildkit-lsp"));
        cmd.env("HOME", self.path())
            .env("DOCKER_CONFIG", self.docker_config())
            .env_remove("BUILDX_CONFIG")
            .env_remove("BUILDX_BUILDER")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("BUILDKIT_HOST")
            .env_remove("KUBECONFIG")
            .env_remove("DOCKER_TLS_VERIFY");
        match &self.docker_host {
            Some(h) => cmd.env("DOCKER_HOST", h),
            None => cmd.env_remove("DOCKER_HOST"),
        };
        cmd
    }
}
