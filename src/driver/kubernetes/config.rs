//! Which cluster a kubernetes node talks to, resolved as buildx's
//! `driver/kubernetes/context` and factory do it:
//!
//! 1. a node endpoint `kubernetes:///…?kubeconfig=PATH` names its kubeconfig
//!    (buildx records `$KUBECONFIG` at create time);
//! 2. a node endpoint that is a docker context name: that context's
//!    `kubernetes` endpoint (host, namespace, token, TLS files);
//! 3. else `$KUBECONFIG` (a `:`-separated list, merged), else
//!    `~/.kube/config`;
//! 4. else, inside a pod, the in-cluster service account.
//!
//! Parsing, merging and authentication (tokens, token files, client
//! certificates, exec plugins) are `kube`'s; this module only chooses.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The parts of the process environment resolution reads; tests build it
/// by hand.
#[derive(Debug, Clone, Default)]
pub struct KubeEnv {
    /// `$KUBECONFIG`.
    pub kubeconfig: Option<OsString>,
    pub home: Option<PathBuf>,
    /// The docker config dir (`$DOCKER_CONFIG` or `~/.docker`), for contexts.
    pub docker_config: Option<PathBuf>,
    /// `KUBERNETES_SERVICE_HOST` is set: we run in a pod.
    pub in_cluster: bool,
}

impl KubeEnv {
    /// The environment of this process.
    pub fn from_process() -> KubeEnv {
        let home = dirs::home_dir();
        KubeEnv {
            kubeconfig: std::env::var_os("KUBECONFIG"),
            docker_config: std::env::var_os("DOCKER_CONFIG")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".docker"))),
            home,
            in_cluster: std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
        }
    }
}

/// Where the configuration came from (for messages and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The `kubernetes` endpoint of a docker context.
    DockerContext(String),
    /// Kubeconfig files (merged in this order).
    Files(Vec<PathBuf>),
    InCluster,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::DockerContext(n) => write!(f, "docker context {n:?}"),
            Source::Files(p) => {
                let p: Vec<String> = p.iter().map(|p| p.display().to_string()).collect();
                write!(f, "kubeconfig {}", p.join(":"))
            }
            Source::InCluster => f.write_str("in-cluster service account"),
        }
    }
}

/// A resolved cluster: `kube`'s client configuration, its namespace and
/// where it came from.
#[derive(Clone)]
pub struct Resolved {
    pub config: kube::Config,
    pub namespace: String,
    pub source: Source,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("server", &self.config.cluster_url.to_string())
            .field("namespace", &self.namespace)
            .field("source", &self.source)
            .finish()
    }
}

/// The kubeconfig path a `kubernetes://` endpoint names (`kubeconfig=`).
pub fn endpoint_kubeconfig(endpoint: &str) -> Option<String> {
    let query = endpoint.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == "kubeconfig" && !v.is_empty()).then(|| query_unescape(v))
    })
}

fn query_unescape(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1]).zip(hex(bytes[i + 2])),
            _ => None,
        };
        match (bytes[i], escaped) {
            (_, Some((hi, lo))) => {
                out.push(hi << 4 | lo);
                i += 2;
            }
            (b'+', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Resolves the cluster of a node whose endpoint is `endpoint`.
pub async fn resolve(endpoint: &str, env: &KubeEnv) -> Result<Resolved, String> {
    let mut tried: Vec<String> = Vec::new();
    let files: Vec<PathBuf> = if endpoint.starts_with("kubernetes://") {
        match endpoint_kubeconfig(endpoint) {
            Some(explicit) => split_paths(&OsString::from(explicit)),
            None => default_files(env),
        }
    } else {
        match context_kubeconfig(endpoint, env) {
            Ok(Some(kc)) => {
                let source = Source::DockerContext(endpoint.to_string());
                match from_kubeconfig(kc, source).await {
                    Ok(r) => return Ok(r),
                    Err(e) => tried.push(e),
                }
            }
            Ok(None) => {}
            Err(e) => tried.push(e),
        }
        default_files(env)
    };
    let existing: Vec<PathBuf> = files.iter().filter(|p| p.is_file()).cloned().collect();
    if existing.is_empty() {
        let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        tried.push(format!("no kubeconfig at {}", list.join(":")));
    } else {
        let merged = existing.iter().try_fold(Kubeconfig::default(), |m, p| {
            Kubeconfig::read_from(p)
                .and_then(|c| m.merge(c))
                .map_err(|e| format!("cannot read kubeconfig {}: {e}", p.display()))
        });
        match merged {
            Ok(kc) => match from_kubeconfig(kc, Source::Files(existing.clone())).await {
                Ok(r) => return Ok(r),
                Err(e) => tried.push(e),
            },
            Err(e) => tried.push(e),
        }
    }
    if env.in_cluster {
        match kube::Config::incluster() {
            Ok(config) => {
                return Ok(Resolved {
                    namespace: config.default_namespace.clone(),
                    config,
                    source: Source::InCluster,
                })
            }
            Err(e) => tried.push(format!("in-cluster configuration: {e}")),
        }
    }
    Err(format!(
        "kubernetes driver requires kubernetes API access ({}); set KUBECONFIG or create ~/.kube/config",
        tried.join("; ")
    ))
}

/// `$KUBECONFIG`'s files, else `~/.kube/config`.
fn default_files(env: &KubeEnv) -> Vec<PathBuf> {
    if let Some(list) = env.kubeconfig.as_ref().filter(|v| !v.is_empty()) {
        let paths = split_paths(list);
        if !paths.is_empty() {
            return paths;
        }
    }
    env.home
        .as_ref()
        .map(|h| vec![h.join(".kube").join("config")])
        .unwrap_or_default()
}

fn split_paths(list: &OsString) -> Vec<PathBuf> {
    std::env::split_paths(list)
        .filter(|p| !p.as_os_str().is_empty())
        .collect()
}

async fn from_kubeconfig(kc: Kubeconfig, source: Source) -> Result<Resolved, String> {
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .map_err(|e| format!("{source}: {e}"))?;
    Ok(Resolved {
        namespace: config.default_namespace.clone(),
        config,
        source,
    })
}

/// The kubeconfig a docker context's `kubernetes` endpoint stands for;
/// `Ok(None)` when the context does not exist or has no such endpoint.
fn context_kubeconfig(name: &str, env: &KubeEnv) -> Result<Option<Kubeconfig>, String> {
    let Some(dir) = &env.docker_config else {
        return Ok(None);
    };
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    let meta_path = dir
        .join("contexts")
        .join("meta")
        .join(&digest)
        .join("meta.json");
    let Ok(text) = std::fs::read_to_string(&meta_path) else {
        return Ok(None);
    };
    let meta: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("docker context {name:?} ({}): {e}", meta_path.display()))?;
    let Some(ep) = meta.pointer("/Endpoints/kubernetes") else {
        return Ok(None);
    };
    let host = ep["Host"].as_str().unwrap_or_default();
    if host.is_empty() {
        return Ok(None);
    }
    let tls_dir = dir
        .join("contexts")
        .join("tls")
        .join(&digest)
        .join("kubernetes");
    let b64 = |file: &str| -> Option<String> {
        std::fs::read(tls_dir.join(file))
            .ok()
            .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
    };
    let mut cluster = json!({ "server": host });
    if ep["SkipTLSVerify"].as_bool() == Some(true) {
        cluster["insecure-skip-tls-verify"] = json!(true);
    }
    if let Some(proxy) = ep["ProxyURL"].as_str().filter(|s| !s.is_empty()) {
        cluster["proxy-url"] = json!(proxy);
    }
    if let Some(ca) = b64("ca.pem") {
        cluster["certificate-authority-data"] = json!(ca);
    }
    let mut user = json!({});
    if let (Some(cert), Some(key)) = (b64("cert.pem"), b64("key.pem")) {
        user["client-certificate-data"] = json!(cert);
        user["client-key-data"] = json!(key);
    }
    if let Some(token) = ep["Token"].as_str().filter(|s| !s.is_empty()) {
        user["token"] = json!(token);
    }
    if let Some(up) = ep.get("usernamePassword") {
        user["username"] = up["username"].clone();
        user["password"] = up["password"].clone();
    }
    let mut context = json!({ "cluster": "cluster", "user": "authInfo" });
    if let Some(ns) = ep["DefaultNamespace"].as_str().filter(|s| !s.is_empty()) {
        context["namespace"] = json!(ns);
    }
    let kc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "cluster", "cluster": cluster }],
        "users": [{ "name": "authInfo", "user": user }],
        "contexts": [{ "name": "context", "context": context }],
        "current-context": "context",
    });
    serde_json::from_value(kc)
        .map(Some)
        .map_err(|e| format!("docker context {name:?}: kubernetes endpoint: {e}"))
}

/// Reads a kubeconfig file on its own (tests, diagnostics).
pub fn read_file(path: &Path) -> Result<Kubeconfig, String> {
    Kubeconfig::read_from(path)
        .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(server: &str, ns: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\nusers:\n- name: u\n  user:\n    token: t0k3n\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: {ns}\ncurrent-context: x\n"
        )
    }

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture {
                dir: tempfile::tempdir().unwrap(),
            }
        }
        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.dir.path().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        }
        fn env(&self, kubeconfig: Option<&Path>) -> KubeEnv {
            KubeEnv {
                kubeconfig: kubeconfig.map(|p| p.as_os_str().to_owned()),
                home: Some(self.dir.path().join("home")),
                docker_config: Some(self.dir.path().join("docker")),
                in_cluster: false,
            }
        }
        fn docker_context(&self, name: &str, kubernetes: serde_json::Value) {
            let digest = hex::encode(Sha256::digest(name.as_bytes()));
            let meta =
                json!({ "Name": name, "Metadata": {}, "Endpoints": { "kubernetes": kubernetes } });
            self.write(
                &format!("docker/contexts/meta/{digest}/meta.json"),
                &meta.to_string(),
            );
        }
    }

    fn url(r: &Resolved) -> String {
        r.config.cluster_url.to_string()
    }

    #[tokio::test]
    async fn home_kubeconfig_when_nothing_else() {
        let f = Fixture::new();
        let home = f.write(
            "home/.kube/config",
            &kubeconfig("https://home:6443", "homens"),
        );
        let r = resolve("kubernetes:///b?deployment=n&kubeconfig=", &f.env(None))
            .await
            .unwrap();
        assert_eq!(url(&r), "https://home:6443/");
        assert_eq!(r.namespace, "homens");
        assert_eq!(r.source, Source::Files(vec![home]));
    }

    #[tokio::test]
    async fn kubeconfig_env_beats_home_and_merges_first_wins() {
        let f = Fixture::new();
        f.write(
            "home/.kube/config",
            &kubeconfig("https://home:6443", "homens"),
        );
        let a = f.write("a.yaml", &kubeconfig("https://a:6443", "ans"));
        let b = f.write("b.yaml", &kubeconfig("https://b:6443", "bns"));
        let mut env = f.env(None);
        env.kubeconfig = Some(std::env::join_paths([&a, &b]).unwrap());
        let r = resolve("kubernetes:///b?deployment=n", &env).await.unwrap();
        assert_eq!(url(&r), "https://a:6443/");
        assert_eq!(r.namespace, "ans");
        assert_eq!(r.source, Source::Files(vec![a, b]));
    }

    #[tokio::test]
    async fn endpoint_kubeconfig_beats_env() {
        let f = Fixture::new();
        let env_file = f.write("env.yaml", &kubeconfig("https://env:6443", "envns"));
        let explicit = f.write(
            "my dir/k.yaml",
            &kubeconfig("https://explicit:6443", "exns"),
        );
        let ep = format!(
            "kubernetes:///b?deployment=n&kubeconfig={}",
            explicit
                .display()
                .to_string()
                .replace('/', "%2F")
                .replace(' ', "+")
        );
        let r = resolve(&ep, &f.env(Some(&env_file))).await.unwrap();
        assert_eq!(url(&r), "https://explicit:6443/");
        assert_eq!(r.source, Source::Files(vec![explicit]));
    }

    #[tokio::test]
    async fn docker_context_endpoint_beats_kubeconfig() {
        let f = Fixture::new();
        let env_file = f.write("env.yaml", &kubeconfig("https://env:6443", "envns"));
        f.docker_context(
            "work",
            json!({"Host": "https://ctx:443", "DefaultNamespace": "ctxns", "Token": "abc", "SkipTLSVerify": true}),
        );
        let r = resolve("work", &f.env(Some(&env_file))).await.unwrap();
        assert_eq!(url(&r), "https://ctx:443/");
        assert_eq!(r.namespace, "ctxns");
        assert!(r.config.accept_invalid_certs);
        assert_eq!(r.source, Source::DockerContext("work".into()));
        // a context without a kubernetes endpoint falls through to KUBECONFIG
        let r = resolve("other", &f.env(Some(&env_file))).await.unwrap();
        assert_eq!(url(&r), "https://env:6443/");
    }

    #[tokio::test]
    async fn docker_context_tls_files_become_ca_and_client_identity() {
        let f = Fixture::new();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["k8s.local".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let digest = hex::encode(Sha256::digest(b"tls"));
        let tls = format!("docker/contexts/tls/{digest}/kubernetes");
        f.write(&format!("{tls}/ca.pem"), &cert.pem());
        f.write(&format!("{tls}/cert.pem"), &cert.pem());
        f.write(&format!("{tls}/key.pem"), &key.serialize_pem());
        f.docker_context("tls", json!({"Host": "https://k8s.local:6443"}));
        let r = resolve("tls", &f.env(None)).await.unwrap();
        assert_eq!(r.namespace, "default");
        // the CA as DER, the same bytes the PEM carries
        assert_eq!(r.config.root_cert, Some(vec![cert.der().to_vec()]));
        assert!(r.config.auth_info.client_certificate_data.is_some());
        assert!(r.config.auth_info.client_key_data.is_some());
    }

    #[tokio::test]
    async fn nothing_found_is_buildx_error() {
        let f = Fixture::new();
        let e = resolve("kubernetes:///b?deployment=n", &f.env(None))
            .await
            .unwrap_err();
        assert!(
            e.starts_with("kubernetes driver requires kubernetes API access (no kubeconfig at "),
            "{e}"
        );
        assert!(e.contains("home/.kube/config"), "{e}");
    }

    #[test]
    fn endpoint_query() {
        assert_eq!(
            endpoint_kubeconfig("kubernetes:///b?deployment=x&kubeconfig=%2Froot%2Fk+1.yaml"),
            Some("/root/k 1.yaml".to_string())
        );
        assert_eq!(
            endpoint_kubeconfig("kubernetes:///b?deployment=x&kubeconfig="),
            None
        );
        assert_eq!(endpoint_kubeconfig("default"), None);
    }
}
