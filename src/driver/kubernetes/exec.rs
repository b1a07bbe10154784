//! The connection to BuildKit in a pod: choose a running pod (buildx's
//! `podchooser`), exec `buildctl dial-stdio` in it over the Kubernetes exec
//! protocol (WebSocket, `v5.channel.k8s.io` / `v4.channel.k8s.io`, through
//! `kube`), and hand stdin/stdout out as one byte stream. Transient
//! failures (5xx/429 answers, broken connections) are retried with
//! buildx's backoff: 5 attempts, 0.5 s doubling up to 10 s.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::AttachParams;
use kube::Api;
use md5::{Digest, Md5};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf, ReadHalf, SimplexStream, WriteHalf};

/// buildx's retry policy for exec (`tryWithBackoff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 5,
            base: Duration::from_millis(500),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt `n` (0-based): base·2ⁿ, capped.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32.checked_shl(attempt).unwrap_or(u32::MAX))
            .min(self.max)
    }
}

/// The running pods' names in name order: phase `Running`, not terminating
/// (buildx's `ListRunningPods`).
pub fn running_pod_names(pods: &[Pod]) -> Vec<String> {
    let mut names: Vec<String> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|ph| ph == "Running")
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    names.sort();
    names
}

/// serialx/hashring's default key: MD5, first 8 bytes then last 8 bytes as
/// little-endian signed integers, compared in that order.
fn ring_key(s: &str) -> (i64, i64) {
    let d = Md5::digest(s.as_bytes());
    let mut hi = [0u8; 8];
    let mut lo = [0u8; 8];
    hi.copy_from_slice(&d[..8]);
    lo.copy_from_slice(&d[8..]);
    (i64::from_le_bytes(hi), i64::from_le_bytes(lo))
}

/// The pod buildx's `StickyPodChooser` picks for `key` (the absolute
/// context path): a consistent-hash ring with one point per pod
/// (`<pod>-0`); the first point above the key's hash, wrapping around. The
/// same choice as buildx, so both tools land on the same pod's cache.
pub fn sticky_choice<'a>(pods: &'a [String], key: &str) -> Option<&'a String> {
    let mut ring: Vec<((i64, i64), &String)> = pods
        .iter()
        .map(|p| (ring_key(&format!("{p}-0")), p))
        .collect();
    ring.sort_by_key(|(k, _)| *k);
    let k = ring_key(key);
    let pos = ring.iter().position(|(point, _)| k < *point).unwrap_or(0);
    ring.get(pos).map(|(_, p)| *p)
}

/// Any of the pods (`RandomPodChooser`).
pub fn random_choice(pods: &[String]) -> Option<&String> {
    if pods.is_empty() {
        return None;
    }
    pods.get(rand::random_range(0..pods.len()))
}

/// Whether an exec failure is worth another attempt: the API server or
/// kubelet answered 5xx or 429, or the connection broke.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code >= 500 || s.code == 429,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        kube::Error::UpgradeConnection(_) => true,
        _ => false,
    }
}

/// Executes `buildctl dial-stdio` in `container` of `pod`, retrying
/// transient failures; `on_retry` hears about each retry.
pub async fn dial_stdio(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    backoff: Backoff,
    on_retry: &mut (dyn FnMut(u32, &kube::Error, Duration) + Send),
) -> Result<ExecStream, kube::Error> {
    let params = AttachParams {
        container: Some(container.to_string()),
        stdin: true,
        stdout: true,
        stderr: true,
        tty: false,
        // kube's default pipes are 1 KiB: far too small for image layers.
        max_stdin_buf_size: Some(256 * 1024),
        max_stdout_buf_size: Some(256 * 1024),
        max_stderr_buf_size: Some(16 * 1024),
    };
    let mut attempt = 0;
    loop {
        match pods.exec(pod, ["buildctl", "dial-stdio"], &params).await {
            Ok(process) => return ExecStream::new(process),
            Err(e) if attempt + 1 < backoff.attempts && is_transient(&e) => {
                let delay = backoff.delay(attempt);
                on_retry(attempt + 1, &e, delay);
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// An exec's stdin and stdout as one duplex stream. It owns the exec (its
/// message loop ends when the stream is dropped); stderr is drained into a
/// small buffer so a chatty `buildctl` cannot stall the loop.
pub struct ExecStream {
    stdout: ReadHalf<SimplexStream>,
    stdin: WriteHalf<SimplexStream>,
    stderr: Arc<Mutex<Vec<u8>>>,
    _process: kube::api::AttachedProcess,
}

impl ExecStream {
    fn new(mut process: kube::api::AttachedProcess) -> Result<ExecStream, kube::Error> {
        let missing =
            |what: &str| kube::Error::Service(format!("the exec has no {what} stream").into());
        let stdout = process.stdout().ok_or_else(|| missing("stdout"))?;
        let stdin = process.stdin().ok_or_else(|| missing("stdin"))?;
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut err) = process.stderr() {
            let buf = stderr.clone();
            tokio::spawn(async move {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = err.read(&mut chunk).await {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut b) = buf.lock() {
                        if b.len() < 64 * 1024 {
                            b.extend_from_slice(&chunk[..n]);
                        }
                    }
                }
            });
        }
        Ok(ExecStream {
            stdout,
            stdin,
            stderr,
            _process: process,
        })
    }

    /// What `buildctl` wrote to stderr so far (for error messages).
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl AsyncRead for ExecStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ExecStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn backoff_doubles_from_half_a_second_to_ten() {
        let b = Backoff::default();
        let d: Vec<u128> = (0..7).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(d, [500, 1000, 2000, 4000, 8000, 10000, 10000]);
    }

    // Expected pods computed independently with Python's hashlib (MD5,
    // struct.unpack('<qq')) following serialx/hashring, not with this code.
    #[test]
    fn sticky_choice_matches_buildx_hashring() {
        let pods = names(&["bk-0", "bk-1", "bk-2"]);
        assert_eq!(sticky_choice(&pods, "/src/app").unwrap(), "bk-2");
        assert_eq!(sticky_choice(&pods, "/src/web").unwrap(), "bk-0");
        assert_eq!(sticky_choice(&pods, "/home/u/proj").unwrap(), "bk-2");
        assert_eq!(sticky_choice(&pods, "/src/api").unwrap(), "bk-1");
        assert_eq!(sticky_choice(&[], "/src/app"), None);
        let one = names(&["only"]);
        assert_eq!(sticky_choice(&one, "/anything").unwrap(), "only");
    }

    #[test]
    fn random_choice_stays_in_the_list() {
        let pods = names(&["a", "b", "c"]);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            seen.insert(random_choice(&pods).unwrap().clone());
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(random_choice(&[]), None);
    }

    #[test]
    fn only_running_pods_that_are_not_terminating_in_name_order() {
        let pod = |name: &str, phase: &str, deleting: bool| -> Pod {
            serde_json::from_value(serde_json::json!({
                "metadata": {
                    "name": name,
                    "deletionTimestamp": if deleting { serde_json::json!("2026-11-27T06:00:00Z") } else { serde_json::Value::Null },
                },
                "status": { "phase": phase },
            }))
            .unwrap()
        };
        let pods = [
            pod("c", "Running", false),
            pod("a", "Running", false),
            pod("b", "Pending", false),
            pod("d", "Running", true),
        ];
        assert_eq!(running_pod_names(&pods), ["a", "c"]);
    }
}
