//! The small services a session offers BuildKit besides file sync and file
//! send: Health (BuildKit pings it to keep the session alive), Auth (registry
//! credentials from the docker config and its credential helpers) and Secrets
//! (`--secret`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use bollard_buildkit_proto::health::health_check_response::ServingStatus;
use bollard_buildkit_proto::health::health_server::Health;
use bollard_buildkit_proto::health::{
    HealthCheckRequest, HealthCheckResponse, HealthListRequest, HealthListResponse,
};
use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::Secrets;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use bollard_buildkit_proto::moby::filesync::v1::auth_server::Auth;
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use futures::Stream;
use tokio::io::AsyncWriteExt;
use tonic::{Request, Response, Status};

use super::redact::SecretValues;
use crate::build::{SecretSource, SecretSpec};

type BoxedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// gRPC health: always serving while the session is up.
#[derive(Debug, Clone, Default)]
pub struct HealthService;

#[tonic::async_trait]
impl Health for HealthService {
    async fn check(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving as i32,
        }))
    }

    async fn list(
        &self,
        _request: Request<HealthListRequest>,
    ) -> Result<Response<HealthListResponse>, Status> {
        Ok(Response::new(HealthListResponse::default()))
    }

    type WatchStream = BoxedStream<HealthCheckResponse>;

    async fn watch(
        &self,
        _request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let once = futures::stream::once(async {
            Ok(HealthCheckResponse {
                status: ServingStatus::Serving as i32,
            })
        });
        // Keep the watch open: a closed stream would read as "gone".
        let stream = once.chain(futures::stream::pending());
        Ok(Response::new(Box::pin(stream)))
    }
}

use futures::StreamExt as _;

/// Where a tarball export goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarDest {
    /// `dest=-`: standard output.
    Stdout,
    File(PathBuf),
}

/// Registry credentials from the docker CLI's config: `auths` entries, and
/// the credential helpers named by `credHelpers` / `credsStore`.
#[derive(Debug, Clone)]
pub struct AuthService {
    config_dir: Option<PathBuf>,
    /// Where the passwords handed out are registered for masking.
    masked: SecretValues,
}

impl AuthService {
    pub fn new(config_dir: Option<PathBuf>) -> AuthService {
        AuthService {
            config_dir,
            masked: SecretValues::default(),
        }
    }

    /// Registers the passwords handed to BuildKit in `values` (`redact`).
    pub fn masked_by(mut self, values: SecretValues) -> AuthService {
        self.masked = values;
        self
    }

    /// Looks up the credentials for a registry host; empty when none.
    pub async fn lookup(&self, host: &str) -> Result<(String, String), String> {
        let Some(dir) = &self.config_dir else {
            return Ok(Default::default());
        };
        let Ok(text) = tokio::fs::read_to_string(dir.join("config.json")).await else {
            return Ok(Default::default());
        };
        let config: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: invalid JSON: {e}", dir.join("config.json").display()))?;
        lookup_in_config(&config, host, &run_helper).await
    }
}

/// The docker CLI's key for Docker Hub.
const HUB_KEY: &str = "https://index.docker.io/v1/";

fn config_keys(host: &str) -> Vec<String> {
    if host == "registry-1.docker.io" || host == "docker.io" || host == "index.docker.io" {
        return vec![HUB_KEY.to_string(), "docker.io".to_string()];
    }
    vec![
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
    ]
}

async fn run_helper(helper: String, key: String) -> Result<(String, String), String> {
    let program = format!("docker-credential-{helper}");
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(key.as_bytes())
            .await
            .map_err(|e| format!("{program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout);
        // Helpers answer "credentials not found in native keychain" when
        // they have nothing: that is anonymous access, not an error.
        if msg.contains("credentials not found") {
            return Ok(Default::default());
        }
        return Err(format!("{program} get failed: {}", msg.trim()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{program} printed invalid JSON: {e}"))?;
    let user = v["Username"].as_str().unwrap_or_default().to_string();
    let secret = v["Secret"].as_str().unwrap_or_default().to_string();
    Ok((user, secret))
}

/// The lookup with the helper runner injectable, for tests.
pub async fn lookup_in_config<F, Fut>(
    config: &serde_json::Value,
    host: &str,
    helper: &F,
) -> Result<(String, String), String>
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<(String, String), String>>,
{
    let keys = config_keys(host);
    if let Some(helpers) = config.get("credHelpers").and_then(|h| h.as_object()) {
        for k in &keys {
            if let Some(name) = helpers.get(k).and_then(|n| n.as_str()) {
                return helper(name.to_string(), k.clone()).await;
            }
        }
    }
    if let Some(store) = config.get("credsStore").and_then(|s| s.as_str()) {
        if !store.is_empty() {
            return helper(store.to_string(), keys[0].clone()).await;
        }
    }
    let auths = config.get("auths").and_then(|a| a.as_object());
    for k in &keys {
        let Some(entry) = auths.and_then(|a| a.get(k)) else {
            continue;
        };
        if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| format!("auths[{k}].auth is not base64: {e}"))?;
            let text = String::from_utf8_lossy(&raw);
            let (user, pass) = text
                .split_once(':')
                .ok_or_else(|| format!("auths[{k}].auth is not user:password"))?;
            return Ok((user.to_string(), pass.to_string()));
        }
        let user = entry["username"].as_str().unwrap_or_default();
        let pass = entry["password"].as_str().unwrap_or_default();
        return Ok((user.to_string(), pass.to_string()));
    }
    Ok(Default::default())
}

#[tonic::async_trait]
impl Auth for AuthService {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        let (username, secret) = self.lookup(&host).await.map_err(Status::unavailable)?;
        self.masked.add(secret.as_bytes());
        Ok(Response::new(CredentialsResponse { username, secret }))
    }

    async fn fetch_token(
        &self,
        _request: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        // BuildKit falls back to Credentials and fetches the token itself.
        Err(Status::unimplemented("fetch token is done by the daemon"))
    }

    async fn get_token_authority(
        &self,
        _request: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }

    async fn verify_token_authority(
        &self,
        _request: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("no token authority"))
    }
}

/// `--secret` values, read when BuildKit asks for them (never sent otherwise).
#[derive(Debug, Clone, Default)]
pub struct SecretsService {
    sources: Arc<HashMap<String, SecretSource>>,
    /// Where the values handed out are registered for masking (`redact`).
    masked: SecretValues,
}

impl SecretsService {
    pub fn new(specs: &[SecretSpec]) -> SecretsService {
        SecretsService {
            sources: Arc::new(
                specs
                    .iter()
                    .map(|s| (s.id.clone(), s.source.clone()))
                    .collect(),
            ),
            masked: SecretValues::default(),
        }
    }

    /// Registers every value in `values` for masking: those readable now,
    /// and each value again when BuildKit fetches it (before it is sent).
    pub fn masked_by(mut self, values: SecretValues) -> SecretsService {
        for source in self.sources.values() {
            if let Ok(v) = read_secret(source) {
                values.add(&v);
            }
        }
        self.masked = values;
        self
    }
}

fn read_secret(source: &SecretSource) -> Result<Vec<u8>, Status> {
    match source {
        SecretSource::File(p) => std::fs::read(p)
            .map_err(|e| Status::not_found(format!("cannot read secret file {}: {e}", display(p)))),
        SecretSource::Env(var) => std::env::var_os(var)
            .map(|v| v.to_string_lossy().into_owned().into_bytes())
            .ok_or_else(|| Status::not_found(format!("environment variable {var} is not set"))),
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

#[tonic::async_trait]
impl Secrets for SecretsService {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = request.into_inner().id;
        let Some(source) = self.sources.get(&id) else {
            return Err(Status::not_found(format!("secret {id} not found")));
        };
        let data = read_secret(source)?;
        self.masked.add(&data);
        Ok(Response::new(GetSecretResponse { data }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn no_helper(_: String, _: String) -> Result<(String, String), String> {
        Err("no helper expected".into())
    }

    #[tokio::test]
    async fn auths_entry_is_decoded() {
        // "alice:s3cret" in base64.
        let cfg = serde_json::json!({"auths": {"127.0.0.1:5000": {"auth": "YWxpY2U6czNjcmV0"}}});
        let got = lookup_in_config(&cfg, "127.0.0.1:5000", &no_helper)
            .await
            .unwrap();
        assert_eq!(got, ("alice".to_string(), "s3cret".to_string()));
        let none = lookup_in_config(&cfg, "other:5000", &no_helper)
            .await
            .unwrap();
        assert_eq!(none, (String::new(), String::new()));
    }

    #[tokio::test]
    async fn helpers_take_precedence_and_get_the_hub_key() {
        let cfg = serde_json::json!({"credsStore": "pass", "credHelpers": {"gcr.io": "gcloud"}});
        let seen = |h: String, k: String| async move { Ok((h, k)) };
        assert_eq!(
            lookup_in_config(&cfg, "gcr.io", &seen).await.unwrap(),
            ("gcloud".to_string(), "gcr.io".to_string())
        );
        assert_eq!(
            lookup_in_config(&cfg, "registry-1.docker.io", &seen)
                .await
                .unwrap(),
            ("pass".to_string(), HUB_KEY.to_string())
        );
    }

    #[tokio::test]
    async fn secrets_come_from_files_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tok");
        std::fs::write(&f, b"abc").unwrap();
        let svc = SecretsService::new(&[SecretSpec {
            id: "tok".into(),
            source: SecretSource::File(f),
        }]);
        let r = svc
            .get_secret(Request::new(GetSecretRequest {
                id: "tok".into(),
                annotations: Default::default(),
            }))
            .await
            .unwrap();
        assert_eq!(r.into_inner().data, b"abc");
        let e = svc
            .get_secret(Request::new(GetSecretRequest {
                id: "nope".into(),
                annotations: Default::default(),
            }))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
        assert_eq!(e.message(), "secret nope not found");
    }
}
