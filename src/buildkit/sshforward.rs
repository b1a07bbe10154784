//! SSH forwarding: the session's `moby.sshforward.v1.SSH` service, which
//! `RUN --mount=type=ssh` reaches. Each `--ssh ID=…` is an agent BuildKit
//! can ask for by id (`buildkit.ssh.id` in the call's metadata, `default`
//! when absent), as buildx's `sshprovider` serves them:
//!
//! - an agent socket (`SSH_AUTH_SOCK` when no path is given): each
//!   `ForwardAgent` stream dials it and relays the agent protocol, read-only
//!   (listing keys, signing and unlocking pass; adding, removing, locking and
//!   extensions are answered with a failure, as BuildKit's `readOnlyAgent`);
//! - private key files: served by an agent in this process that lists the
//!   keys and signs with them.
//!
//! The agent protocol's messages are `ssh-agent-lib`'s types; the keys are
//! `ssh-key`'s (OpenSSH format; RSA signs with `rsa`, SHA-2 only).

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::{Ssh, SshServer};
use bollard_buildkit_proto::moby::sshforward::v1::{
    BytesMessage, CheckAgentRequest, CheckAgentResponse,
};
use futures::{Stream, StreamExt as _};
use ssh_agent_lib::proto::{signature as sigflags, Identity, Request as AgentRequest, Response};
use ssh_agent_lib::ssh_encoding::{Decode, Encode};
use ssh_agent_lib::ssh_key::private::{KeypairData, RsaKeypair};
use ssh_agent_lib::ssh_key::public::KeyData;
use ssh_agent_lib::ssh_key::{Algorithm, HashAlg, PrivateKey, Signature};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tonic::{Request, Response as GrpcResponse, Status, Streaming};

use crate::build::SshSpec;

/// The id a mount without `id=` asks for (BuildKit's `sshforward.DefaultID`).
pub const DEFAULT_ID: &str = "default";
/// The metadata key carrying the id of a `ForwardAgent` call.
const KEY_SSH_ID: &str = "buildkit.ssh.id";
/// buildx reads at most this much of a key file.
const MAX_KEY_FILE: u64 = 100 * 1024;
/// The largest agent message this side reads (OpenSSH's agent allows 256 KiB).
const MAX_MESSAGE: usize = 256 * 1024;

/// The agent message types a forwarded socket is asked for; anything else
/// gets `SSH_AGENT_FAILURE` (BuildKit's `readOnlyAgent`).
const REQUEST_IDENTITIES: u8 = 11;
const SIGN_REQUEST: u8 = 13;
const UNLOCK: u8 = 23;
const FAILURE: u8 = 5;

/// Where one id's agent is.
#[derive(Debug, Clone)]
enum AgentSource {
    Socket(PathBuf),
    Keys(Arc<Vec<LoadedKey>>),
}

#[derive(Debug)]
struct LoadedKey {
    key: PrivateKey,
    comment: String,
}

/// The SSH attachable of a session.
#[derive(Debug, Clone)]
pub struct SshForwardService {
    agents: Arc<HashMap<String, AgentSource>>,
}

impl SshForwardService {
    /// Reads the specs as buildx's `NewSSHAgentProvider` does: an empty
    /// path list means `SSH_AUTH_SOCK`; each path is a socket or a key
    /// file; one socket per id, never mixed with keys. Errors carry buildx's
    /// words.
    pub fn new(specs: &[SshSpec]) -> Result<SshForwardService, String> {
        Self::with_auth_sock(specs, std::env::var_os("SSH_AUTH_SOCK"))
    }

    /// [`SshForwardService::new`] with `SSH_AUTH_SOCK` given.
    pub fn with_auth_sock(
        specs: &[SshSpec],
        auth_sock: Option<OsString>,
    ) -> Result<SshForwardService, String> {
        let mut agents = HashMap::new();
        for spec in specs {
            let id = if spec.id.is_empty() {
                DEFAULT_ID
            } else {
                &spec.id
            };
            if agents.contains_key(id) {
                return Err(format!("duplicate agent ID {id:?}"));
            }
            // buildx (v0.14 on) wraps each error in the config as Go's `%v`
            // prints it: `{ID [PATH …] false}`.
            let config = format!(
                "failed to convert agent config {{{id} [{}] false}}",
                spec.paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            let mut paths = spec.paths.clone();
            if paths.is_empty() || (paths.len() == 1 && paths[0].as_os_str().is_empty()) {
                match auth_sock.as_ref().filter(|s| !s.is_empty()) {
                    Some(sock) => paths = vec![PathBuf::from(sock)],
                    None => {
                        return Err(format!(
                        "{config}: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set"
                    ))
                    }
                }
            }
            let source = source_of(&paths).map_err(|e| {
                format!("{config}: failed to convert agent config for ID: {id:?}: {e}")
            })?;
            agents.insert(id.to_string(), source);
        }
        Ok(SshForwardService {
            agents: Arc::new(agents),
        })
    }

    /// The ids served, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.agents.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// The gRPC service for the session's router.
    pub fn into_server(self) -> SshServer<SshForwardService> {
        SshServer::new(self)
    }
}

/// buildx's `toDialer`: sockets and key files, told apart by `stat`.
fn source_of(paths: &[PathBuf]) -> Result<AgentSource, String> {
    use std::os::unix::fs::FileTypeExt;
    let mut socket: Option<PathBuf> = None;
    let mut keys = Vec::new();
    for p in paths {
        if socket.is_some() {
            return Err("only single socket allowed".into());
        }
        let meta = std::fs::metadata(p).map_err(|e| go_io("stat", p, &e))?;
        if meta.file_type().is_socket() {
            socket = Some(p.clone());
            continue;
        }
        keys.push(load_key(p)?);
    }
    match socket {
        Some(_) if !keys.is_empty() => Err("invalid combination of keys and sockets".into()),
        Some(s) => Ok(AgentSource::Socket(s)),
        None => Ok(AgentSource::Keys(Arc::new(keys))),
    }
}

fn load_key(path: &Path) -> Result<LoadedKey, String> {
    let file = std::fs::File::open(path).map_err(|e| {
        format!(
            "failed to open {}: {}",
            path.display(),
            go_io("open", path, &e)
        )
    })?;
    let mut text = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_KEY_FILE), &mut text)
        .map_err(|e| format!("failed to read {}: {}", path.display(), go_err(&e)))?;
    let parse_err = |why: String| format!("failed to parse {}: {why}", path.display());
    let key = PrivateKey::from_openssh(&text).map_err(|e| {
        let pem = String::from_utf8_lossy(&text).contains("-----BEGIN ")
            && !String::from_utf8_lossy(&text).contains("OPENSSH PRIVATE KEY");
        parse_err(if pem {
            format!("{e} (only keys in OpenSSH's format are read; `ssh-keygen -p -f {}` rewrites a PEM key in it)", path.display())
        } else {
            e.to_string()
        })
    })?;
    if key.is_encrypted() {
        // Go's `ssh.PassphraseMissingError`; buildx does not prompt either.
        return Err(parse_err(
            "ssh: this private key is passphrase protected".into(),
        ));
    }
    let comment = match key.comment() {
        "" => path.display().to_string(),
        c => c.to_string(),
    };
    Ok(LoadedKey { key, comment })
}

/// A Go-style `op path: reason` for an I/O error.
fn go_io(op: &str, path: &Path, e: &std::io::Error) -> String {
    format!("{op} {}: {}", path.display(), go_err(e))
}

/// Rust's "No such file or directory (os error 2)" as Go prints it.
fn go_err(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    };
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}

type ForwardStream = Pin<Box<dyn Stream<Item = Result<BytesMessage, Status>> + Send + 'static>>;

#[tonic::async_trait]
impl Ssh for SshForwardService {
    async fn check_agent(
        &self,
        request: Request<CheckAgentRequest>,
    ) -> Result<GrpcResponse<CheckAgentResponse>, Status> {
        let id = request.into_inner().id;
        let id = if id.is_empty() { DEFAULT_ID } else { &id };
        if !self.agents.contains_key(id) {
            return Err(Status::not_found(format!("unset ssh forward key {id}")));
        }
        Ok(GrpcResponse::new(CheckAgentResponse {}))
    }

    type ForwardAgentStream = ForwardStream;

    async fn forward_agent(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<GrpcResponse<Self::ForwardAgentStream>, Status> {
        let id = request
            .metadata()
            .get(KEY_SSH_ID)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .unwrap_or(DEFAULT_ID)
            .to_string();
        let Some(source) = self.agents.get(&id).cloned() else {
            return Err(Status::not_found(format!("unset ssh forward key {id}")));
        };
        // The agent serves one end of a pipe; the stream carries the other.
        let (agent_end, stream_end) = tokio::io::duplex(64 * 1024);
        match source {
            AgentSource::Socket(path) => {
                let conn = tokio::time::timeout(
                    Duration::from_secs(2),
                    tokio::net::UnixStream::connect(&path),
                )
                .await
                .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))
                .and_then(|r| r)
                .map_err(|e| {
                    Status::unavailable(format!(
                        "failed to dial agent {id}: failed to connect to {}: {}",
                        path.display(),
                        go_err(&e)
                    ))
                })?;
                tokio::spawn(serve_read_only(agent_end, conn));
            }
            AgentSource::Keys(keys) => {
                tokio::spawn(serve_keys(agent_end, keys));
            }
        }
        let (reader, mut writer) = tokio::io::split(stream_end);
        let mut inbound = request.into_inner();
        tokio::spawn(async move {
            while let Ok(Some(msg)) = inbound.message().await {
                if writer.write_all(&msg.data).await.is_err() {
                    break;
                }
            }
            // BuildKit closed its side: the agent sees the end of input.
            let _ = writer.shutdown().await;
        });
        let outbound = tokio_util::io::ReaderStream::new(reader).map(|chunk| {
            chunk
                .map(|data| BytesMessage {
                    data: data.to_vec(),
                })
                .map_err(|e| Status::internal(format!("ssh agent: {e}")))
        });
        Ok(GrpcResponse::new(Box::pin(outbound)))
    }
}

/// Reads one agent message (its body, without the length); `None` at the
/// end of input.
async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MESSAGE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("ssh agent message of {len} bytes is too large"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).await?;
    Ok(Some(body))
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, body: &[u8]) -> std::io::Result<()> {
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    w.write_all(&frame).await?;
    w.flush().await
}

/// Relays requests to a real agent, answering the ones that would change
/// it with a failure.
async fn serve_read_only<S>(mut io: S, mut agent: tokio::net::UnixStream) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(body) = read_frame(&mut io).await? {
        if matches!(
            body.first(),
            Some(&REQUEST_IDENTITIES | &SIGN_REQUEST | &UNLOCK)
        ) {
            write_frame(&mut agent, &body).await?;
            let Some(answer) = read_frame(&mut agent).await? else {
                return Ok(());
            };
            write_frame(&mut io, &answer).await?;
        } else {
            write_frame(&mut io, &[FAILURE]).await?;
        }
    }
    Ok(())
}

/// The in-process agent of key files: lists the keys and signs with them;
/// every other request fails.
async fn serve_keys<S>(mut io: S, keys: Arc<Vec<LoadedKey>>) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(body) = read_frame(&mut io).await? {
        let answer = answer(&keys, &body);
        let mut encoded = Vec::new();
        if answer.encode(&mut encoded).is_err() {
            encoded = vec![FAILURE];
        }
        write_frame(&mut io, &encoded).await?;
    }
    Ok(())
}

fn answer(keys: &[LoadedKey], body: &[u8]) -> Response {
    let mut reader = body;
    match AgentRequest::decode(&mut reader) {
        Ok(AgentRequest::RequestIdentities) => Response::IdentitiesAnswer(
            keys.iter()
                .map(|k| Identity {
                    credential: k.key.public_key().key_data().clone().into(),
                    comment: k.comment.clone(),
                })
                .collect(),
        ),
        Ok(AgentRequest::SignRequest(req)) => {
            let wanted = req.credential.key_data();
            let Some(k) = keys
                .iter()
                .find(|k| k.key.public_key().key_data() == wanted)
            else {
                return Response::Failure;
            };
            match sign(&k.key, &req.data, req.flags) {
                Some(sig) => Response::SignResponse(sig),
                None => Response::Failure,
            }
        }
        _ => Response::Failure,
    }
}

/// Signs `data` as the agent protocol asks: RSA with SHA-512 or SHA-256 by
/// the request's flags (SHA-1 `ssh-rsa` is not offered), other keys with
/// their one algorithm.
fn sign(key: &PrivateKey, data: &[u8], flags: u32) -> Option<Signature> {
    use rsa::signature::{SignatureEncoding, Signer};
    match key.key_data() {
        KeypairData::Rsa(rsa_key) => {
            let private = rsa_private(rsa_key)?;
            let (hash, bytes) = if flags & sigflags::RSA_SHA2_512 != 0 {
                let s = rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(private)
                    .try_sign(data)
                    .ok()?;
                (HashAlg::Sha512, s.to_vec())
            } else if flags & sigflags::RSA_SHA2_256 != 0 {
                let s = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(private)
                    .try_sign(data)
                    .ok()?;
                (HashAlg::Sha256, s.to_vec())
            } else {
                return None;
            };
            Signature::new(Algorithm::Rsa { hash: Some(hash) }, bytes).ok()
        }
        _ => key.try_sign(data).ok(),
    }
}

fn rsa_private(k: &RsaKeypair) -> Option<rsa::RsaPrivateKey> {
    let n = |m| rsa::BigUint::try_from(m).ok();
    rsa::RsaPrivateKey::from_components(
        n(&k.public.n)?,
        n(&k.public.e)?,
        n(&k.private.d)?,
        vec![n(&k.private.p)?, n(&k.private.q)?],
    )
    .ok()
}

/// The public keys of a service's key-file agent for `id` (tests).
#[doc(hidden)]
pub fn key_data_of(svc: &SshForwardService, id: &str) -> Vec<KeyData> {
    match svc.agents.get(id) {
        Some(AgentSource::Keys(k)) => k
            .iter()
            .map(|k| k.key.public_key().key_data().clone())
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: &str) -> SshSpec {
        SshSpec::parse(v)
    }

    #[test]
    fn default_needs_ssh_auth_sock() {
        let e = SshForwardService::with_auth_sock(&[spec("default")], None).unwrap_err();
        assert_eq!(
            e,
            "failed to convert agent config {default [] false}: invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set"
        );
    }

    #[test]
    fn missing_paths_and_duplicates_are_reported_like_buildx() {
        let e = SshForwardService::with_auth_sock(&[spec("k=/nonexistent/key")], None).unwrap_err();
        // buildx v0.36's words (0.13.1 prints only the `stat` part).
        assert_eq!(
            e,
            "failed to convert agent config {k [/nonexistent/key] false}: failed to convert agent config for ID: \"k\": stat /nonexistent/key: no such file or directory"
        );
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk");
        std::fs::write(&junk, "not a key").unwrap();
        let e = SshForwardService::with_auth_sock(
            &[SshSpec {
                id: "k".into(),
                paths: vec![junk.clone()],
            }],
            None,
        )
        .unwrap_err();
        assert!(
            e.contains(&format!(
                ": failed to convert agent config for ID: \"k\": failed to parse {}: ",
                junk.display()
            )),
            "{e}"
        );
        let sock = dir.path().join("s");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let e = SshForwardService::with_auth_sock(
            &[spec("a"), spec("a")],
            Some(sock.clone().into_os_string()),
        )
        .unwrap_err();
        assert_eq!(e, "duplicate agent ID \"a\"");
        let e = SshForwardService::with_auth_sock(
            &[SshSpec {
                id: "m".into(),
                paths: vec![sock.clone(), junk],
            }],
            None,
        )
        .unwrap_err();
        assert!(e.ends_with("only single socket allowed"), "{e}");
    }

    #[test]
    fn a_socket_path_and_the_environment_socket_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let svc = SshForwardService::with_auth_sock(
            &[spec("default"), spec(&format!("other={}", sock.display()))],
            Some(sock.into_os_string()),
        )
        .unwrap();
        assert_eq!(svc.ids(), vec!["default", "other"]);
    }

    #[tokio::test]
    async fn the_read_only_relay_refuses_to_change_the_agent() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("agent.sock");
        let listener = tokio::net::UnixListener::bind(&sock).unwrap();
        // A stand-in agent that answers every request with SUCCESS (6).
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            while let Ok(Some(_)) = read_frame(&mut s).await {
                write_frame(&mut s, &[6]).await.unwrap();
            }
        });
        let (mut client, agent_end) = tokio::io::duplex(4096);
        let conn = tokio::net::UnixStream::connect(&sock).await.unwrap();
        tokio::spawn(serve_read_only(agent_end, conn));
        // REMOVE_ALL_IDENTITIES (19) is refused here; REQUEST_IDENTITIES
        // reaches the agent.
        write_frame(&mut client, &[19]).await.unwrap();
        assert_eq!(read_frame(&mut client).await.unwrap(), Some(vec![FAILURE]));
        write_frame(&mut client, &[REQUEST_IDENTITIES])
            .await
            .unwrap();
        assert_eq!(read_frame(&mut client).await.unwrap(), Some(vec![6]));
    }
}
