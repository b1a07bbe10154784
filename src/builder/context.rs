//! What the builder layer needs to know about the Docker CLI's configuration:
//! where the docker config dir is, which docker context is current, its
//! endpoint (the key buildx files `current` under), and which contexts exist
//! (each one is also a builder, of the docker driver). Read from an `Env`
//! snapshot so tests and the editor can pass their own.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// The default Docker Engine socket, the `default` context's host.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// The environment the store and selection read. `from_process()` takes it
/// from this process; tests build one by hand.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub buildx_config: Option<String>,
    pub docker_config: Option<String>,
    pub home: Option<PathBuf>,
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    pub buildx_builder: Option<String>,
    pub buildkit_host: Option<String>,
    /// `DOCKER_TLS_VERIFY` set: the Docker CLI's default context then
    /// carries TLS data from the environment.
    pub docker_tls_from_env: bool,
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            buildx_config: non_empty("BUILDX_CONFIG"),
            docker_config: non_empty("DOCKER_CONFIG"),
            home: dirs::home_dir(),
            docker_host: non_empty("DOCKER_HOST"),
            docker_context: non_empty("DOCKER_CONTEXT"),
            buildx_builder: non_empty("BUILDX_BUILDER"),
            buildkit_host: non_empty("BUILDKIT_HOST"),
            docker_tls_from_env: non_empty("DOCKER_TLS_VERIFY").is_some(),
        }
    }

    /// `$DOCKER_CONFIG`, else `~/.docker`.
    pub fn docker_config_dir(&self) -> PathBuf {
        match &self.docker_config {
            Some(dir) => PathBuf::from(dir),
            None => self
                .home
                .clone()
                .unwrap_or_else(|| PathBuf::from("/"))
                .join(".docker"),
        }
    }

    /// `$BUILDX_CONFIG`, else `buildx/` in the docker config dir.
    pub fn buildx_dir(&self) -> PathBuf {
        match &self.buildx_config {
            Some(dir) => PathBuf::from(dir),
            None => self.docker_config_dir().join("buildx"),
        }
    }

    /// The current docker context's name, resolved as the Docker CLI does:
    /// `DOCKER_HOST` forces `default`, then `DOCKER_CONTEXT`, then
    /// `currentContext` in `config.json`, then `default`.
    pub fn current_context(&self) -> String {
        if self.docker_host.is_some() {
            return "default".into();
        }
        if let Some(name) = &self.docker_context {
            return name.clone();
        }
        let config = self.docker_config_dir().join("config.json");
        if let Ok(data) = std::fs::read(&config) {
            if let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice(&data) {
                if let Some(serde_json::Value::String(name)) = obj.get("currentContext") {
                    if !name.is_empty() {
                        return name.clone();
                    }
                }
            }
        }
        "default".into()
    }

    /// The docker host of the `default` context.
    pub fn default_host(&self) -> String {
        self.docker_host
            .clone()
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string())
    }

    /// buildx's `GetCurrentEndpoint`: the context name, or for the `default`
    /// context its host. `current` is keyed by this.
    pub fn current_endpoint(&self) -> String {
        let name = self.current_context();
        if name != "default" {
            return name;
        }
        self.default_host()
    }

    /// Names of all docker contexts: `default` and those in
    /// `contexts/meta/<sha256(name)>/meta.json`.
    pub fn contexts(&self) -> Vec<DockerContext> {
        let mut out = vec![DockerContext {
            name: "default".into(),
            host: Some(self.default_host()),
        }];
        let meta = self.docker_config_dir().join("contexts").join("meta");
        let Ok(entries) = std::fs::read_dir(&meta) else {
            return out;
        };
        for entry in entries.flatten() {
            if let Some(ctx) = read_context(&entry.path().join("meta.json")) {
                if ctx.name != "default" && !out.iter().any(|c| c.name == ctx.name) {
                    out.push(ctx);
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The context named `name`, if it exists.
    pub fn context(&self, name: &str) -> Option<DockerContext> {
        if name == "default" {
            return self.contexts().into_iter().next();
        }
        let dir = hex::encode(Sha256::digest(name.as_bytes()));
        let ctx = read_context(
            &self
                .docker_config_dir()
                .join("contexts")
                .join("meta")
                .join(dir)
                .join("meta.json"),
        )?;
        (ctx.name == name).then_some(ctx)
    }
}

/// A docker context: its name and Docker endpoint host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerContext {
    pub name: String,
    pub host: Option<String>,
}

fn read_context(path: &Path) -> Option<DockerContext> {
    let data = std::fs::read(path).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&data).ok()?;
    let name = v.get("Name")?.as_str()?.to_string();
    let host = v
        .get("Endpoints")
        .and_then(|e| e.get("docker"))
        .and_then(|d| d.get("Host"))
        .and_then(|h| h.as_str())
        .map(str::to_string);
    Some(DockerContext { name, host })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(dir: &Path) -> Env {
        Env {
            docker_config: Some(dir.to_string_lossy().into_owned()),
            ..Env::default()
        }
    }

    #[test]
    fn paths_follow_buildx_config_then_docker_config() {
        let mut e = Env {
            home: Some(PathBuf::from("/home/u")),
            ..Env::default()
        };
        assert_eq!(e.buildx_dir(), PathBuf::from("/home/u/.docker/buildx"));
        e.docker_config = Some("/cfg".into());
        assert_eq!(e.buildx_dir(), PathBuf::from("/cfg/buildx"));
        e.buildx_config = Some("/bx".into());
        assert_eq!(e.buildx_dir(), PathBuf::from("/bx"));
    }

    #[test]
    fn current_context_and_endpoint_key() {
        let dir = tempfile::tempdir().unwrap();
        let mut e = env(dir.path());
        assert_eq!(e.current_endpoint(), "unix:///var/run/docker.sock");
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"currentContext":"remote1"}"#,
        )
        .unwrap();
        assert_eq!(e.current_context(), "remote1");
        assert_eq!(e.current_endpoint(), "remote1");
        e.docker_context = Some("other".into());
        assert_eq!(e.current_endpoint(), "other");
        e.docker_host = Some("tcp://10.0.0.1:2375".into());
        assert_eq!(e.current_context(), "default");
        assert_eq!(e.current_endpoint(), "tcp://10.0.0.1:2375");
    }

    #[test]
    fn lists_contexts_from_meta_dir() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(dir.path());
        let hash = hex::encode(Sha256::digest(b"work"));
        let meta = dir.path().join("contexts/meta").join(&hash);
        std::fs::create_dir_all(&meta).unwrap();
        std::fs::write(
            meta.join("meta.json"),
            r#"{"Name":"work","Metadata":{},"Endpoints":{"docker":{"Host":"ssh://me@box","SkipTLSVerify":false}}}"#,
        )
        .unwrap();
        let names: Vec<String> = e.contexts().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["default", "work"]);
        assert_eq!(
            e.context("work").unwrap().host.as_deref(),
            Some("ssh://me@box")
        );
        assert!(e.context("nope").is_none());
    }
}
