//! Pod exec: `GET|POST /api/v1/namespaces/{ns}/pods/{pod}/exec?command=…`
//! upgraded to a WebSocket with the Kubernetes channel subprotocols
//! (`v5.channel.k8s.io`, `v4.channel.k8s.io`, older `channel.k8s.io`).
//! Every binary message starts with its channel: 0 stdin, 1 stdout,
//! 2 stderr, 3 error/status (a JSON `Status` from v4 on), 4 resize; v5 adds
//! 255 (close: `[255, 0]` is stdin's EOF). `buildctl dial-stdio` is bridged
//! byte for byte to the configured BuildKit; when BuildKit closes, the exit
//! status goes out on channel 3 and the socket closes, as the kubelet does.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use futures::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::{self, protocol::Role, Message};

use super::api::{parse_query, ApiError};
use super::server::{full, Body};
use super::store::{self, ExecRecord, Shared};
use super::BuildkitTarget;

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const STATUS: u8 = 3;
const CLOSE: u8 = 255;

/// The subprotocols served, newest first.
const PROTOCOLS: &[&str] = &[
    "v5.channel.k8s.io",
    "v4.channel.k8s.io",
    "v3.channel.k8s.io",
    "v2.channel.k8s.io",
    "channel.k8s.io",
];

pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    ns: String,
    pod_name: String,
    query: String,
) -> Response<Body> {
    match prepare(&shared, &req, &ns, &pod_name, &query) {
        Ok(Accepted {
            protocol,
            accept,
            command,
            streams,
            pod_uid,
        }) => {
            let target = shared.opts.buildkit.clone();
            let mut builder = Response::builder()
                .status(101)
                .header("upgrade", "websocket")
                .header("connection", "Upgrade")
                .header("sec-websocket-accept", accept);
            if !protocol.is_empty() {
                builder = builder.header("sec-websocket-protocol", protocol);
            }
            tokio::spawn(async move {
                let Ok(upgraded) = hyper::upgrade::on(req).await else {
                    return;
                };
                let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
                    TokioIo::new(upgraded),
                    Role::Server,
                    None,
                )
                .await;
                shared.open_execs.fetch_add(1, Ordering::SeqCst);
                let gone = pod_gone(shared.clone(), ns, pod_name, pod_uid);
                session(ws, protocol, command, streams, target, gone).await;
                shared.open_execs.fetch_sub(1, Ordering::SeqCst);
            });
            builder
                .body(full(""))
                .unwrap_or_else(|_| Response::new(full("")))
        }
        Err(Refusal::Api(e)) => e.response(),
        Err(Refusal::Handshake(code, text)) => Response::builder()
            .status(code)
            .header("content-type", "text/plain; charset=utf-8")
            .body(full(text))
            .unwrap_or_else(|_| Response::new(full(""))),
    }
}

enum Refusal {
    Api(ApiError),
    /// The WebSocket handshake itself failed (plain text, as Go's
    /// websocket server answers).
    Handshake(u16, String),
}

/// Which streams the client asked for.
#[derive(Debug, Clone, Copy)]
struct Streams {
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

fn flag(q: &[(String, String)], name: &str) -> bool {
    q.iter()
        .any(|(k, v)| k == name && matches!(v.as_str(), "true" | "1" | "True"))
}

/// An exec request that passed the checks.
struct Accepted {
    /// The negotiated subprotocol (`""` when the client offered none).
    protocol: &'static str,
    /// The `Sec-WebSocket-Accept` value.
    accept: String,
    command: Vec<String>,
    streams: Streams,
    pod_uid: String,
}

/// Checks the request as the API server and kubelet would.
fn prepare(
    shared: &Shared,
    req: &Request<Incoming>,
    ns: &str,
    pod_name: &str,
    query: &str,
) -> Result<Accepted, Refusal> {
    let q = parse_query(query);
    let command: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let streams = Streams {
        stdin: flag(&q, "stdin"),
        stdout: flag(&q, "stdout"),
        stderr: flag(&q, "stderr"),
    };
    let requested = q
        .iter()
        .find(|(k, _)| k == "container")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let pods_rt = store::resource_by_plural("pods").expect("pods type");

    let mut st = shared.lock();
    let pod = st
        .get("pods", ns, pod_name)
        .cloned()
        .ok_or_else(|| Refusal::Api(ApiError::not_found(pods_rt, pod_name)))?;
    let names: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let container = if requested.is_empty() {
        match names.as_slice() {
            [only] => only.clone(),
            _ => {
                return Err(Refusal::Api(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod_name}, choose one of: [{}]",
                    names.join(" ")
                ))))
            }
        }
    } else {
        requested
    };
    st.execs.push(ExecRecord {
        pod: pod_name.to_string(),
        container: container.clone(),
        command: command.clone(),
    });
    if st.fail_execs > 0 {
        st.fail_execs -= 1;
        return Err(Refusal::Api(injected_failure(st.fail_exec_status)));
    }
    drop(st);

    if !names.contains(&container) {
        return Err(Refusal::Api(ApiError::bad_request(format!(
            "container {container} is not valid for pod {pod_name}"
        ))));
    }
    if !(streams.stdin || streams.stdout || streams.stderr) {
        return Err(Refusal::Api(ApiError::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        )));
    }
    if command.is_empty() {
        return Err(Refusal::Api(ApiError::bad_request(
            "you must specify at least one command for the container",
        )));
    }
    let running = pod["status"]["containerStatuses"]
        .as_array()
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["name"] == json!(container) && !c["state"]["running"].is_null())
        });
    if !running {
        return Err(Refusal::Api(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found (\"{container}\")"
        ))));
    }

    let header = |name: &str| -> Vec<String> {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
            .filter(|p| !p.is_empty())
            .collect()
    };
    let is_websocket = header("upgrade")
        .iter()
        .any(|u| u.eq_ignore_ascii_case("websocket"));
    let key = header("sec-websocket-key").into_iter().next();
    let (true, Some(key)) = (is_websocket, key) else {
        // A real API server would try SPDY here; the simulator speaks
        // only WebSocket.
        return Err(Refusal::Api(ApiError::bad_request(
            "Upgrade request required",
        )));
    };
    let offered = header("sec-websocket-protocol");
    let protocol = if offered.is_empty() {
        ""
    } else {
        // The first protocol in the client's order that the server knows,
        // as apimachinery's wsstream handshake picks.
        match offered
            .iter()
            .find_map(|o| PROTOCOLS.iter().find(|p| **p == o.as_str()))
        {
            Some(p) => p,
            None => {
                return Err(Refusal::Handshake(
                    403,
                    format!(
                    "requested protocol(s) are not supported: {offered:?}; supports {PROTOCOLS:?}"
                ),
                ))
            }
        }
    };
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    Ok(Accepted {
        protocol,
        accept,
        command,
        streams,
        pod_uid: pod["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

fn injected_failure(code: u16) -> ApiError {
    let (reason, message) = match code {
        400 => ("BadRequest", "unable to upgrade connection: simulated by k8s_sim"),
        401 => ("Unauthorized", "Unauthorized"),
        403 => ("Forbidden", "pods \"exec\" is forbidden: simulated by k8s_sim"),
        404 => ("NotFound", "the server could not find the requested resource"),
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504 => ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request"),
        _ => (
            "InternalError",
            "Internal error occurred: error dialing backend: dial tcp 127.0.0.1:10250: connect: connection refused (simulated by k8s_sim)",
        ),
    };
    ApiError::new(code, reason, message)
}

type Ws = tokio_tungstenite::WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::binary(v)
}

/// The exit status on channel 3: a JSON `Status` from v4 on, the bare
/// message (nothing on success) before.
fn status_frame(protocol: &str, exit_code: Option<i32>, command: &[String]) -> Option<Message> {
    let json_status = matches!(protocol, "v4.channel.k8s.io" | "v5.channel.k8s.io");
    match exit_code {
        None if json_status => Some(frame(
            STATUS,
            json!({"metadata": {}, "status": "Success"})
                .to_string()
                .as_bytes(),
        )),
        None => None,
        Some(code) => {
            let message = format!(
                "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
                command.join(" ")
            );
            let body: Value = json!({
                "metadata": {},
                "status": "Failure",
                "message": message,
                "reason": "NonZeroExitCode",
                "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]},
            });
            Some(if json_status {
                frame(STATUS, body.to_string().as_bytes())
            } else {
                frame(STATUS, message.as_bytes())
            })
        }
    }
}

fn is_dial_stdio(command: &[String]) -> bool {
    command
        .first()
        .is_some_and(|c| c == "buildctl" || c.ends_with("/buildctl"))
        && command.iter().any(|c| c == "dial-stdio")
}

async fn connect(target: &BuildkitTarget) -> std::io::Result<Box<dyn crate::support::relay::Io>> {
    Ok(match target {
        BuildkitTarget::EngineGrpc => {
            crate::support::relay::connect_engine_grpc(&crate::support::docker_endpoint()).await?
        }
        BuildkitTarget::Tcp(a) => Box::new(tokio::net::TcpStream::connect(a).await?),
        BuildkitTarget::Unix(p) => Box::new(tokio::net::UnixStream::connect(p).await?),
    })
}

async fn finish(ws: &mut futures::stream::SplitSink<Ws, Message>, status: Option<Message>) {
    if let Some(s) = status {
        let _ = ws.send(s).await;
    }
    let _ = ws.close().await;
}

async fn session(
    ws: Ws,
    protocol: &'static str,
    command: Vec<String>,
    streams: Streams,
    target: BuildkitTarget,
    pod_gone: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let (mut sink, mut stream) = ws.split();
    // The kubelet's "connection established" signal: an empty message on
    // the lowest writable channel.
    let first = if streams.stdout {
        STDOUT
    } else if streams.stderr {
        STDERR
    } else {
        STATUS
    };
    if sink.send(frame(first, &[])).await.is_err() {
        return;
    }
    if !is_dial_stdio(&command) {
        if streams.stderr {
            let msg = format!(
                "k8s_sim: only `buildctl dial-stdio` is simulated, not {:?}\n",
                command
            );
            let _ = sink.send(frame(STDERR, msg.as_bytes())).await;
        }
        finish(&mut sink, status_frame(protocol, Some(126), &command)).await;
        return;
    }
    let upstream = match connect(&target).await {
        Ok(u) => u,
        Err(e) => {
            if streams.stderr {
                let msg = format!("error: failed to dial buildkitd: {e}\n");
                let _ = sink.send(frame(STDERR, msg.as_bytes())).await;
            }
            finish(&mut sink, status_frame(protocol, Some(1), &command)).await;
            return;
        }
    };
    let (mut up_read, mut up_write) = tokio::io::split(upstream);
    let v5 = protocol == "v5.channel.k8s.io";

    // Client -> BuildKit: stdin bytes; stdin's EOF half-closes BuildKit's side.
    let inbound = async move {
        while let Some(msg) = stream.next().await {
            let data = match msg {
                Ok(Message::Binary(b)) => b,
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => continue,
            };
            let delivered = match data.first() {
                Some(&STDIN) => up_write.write_all(&data[1..]).await.is_ok(),
                Some(&CLOSE) if v5 && data.get(1) == Some(&STDIN) => {
                    let _ = up_write.shutdown().await;
                    true
                }
                // resize (4) and anything else: nothing to do without a TTY
                _ => true,
            };
            if !delivered {
                break;
            }
        }
        let _ = up_write.shutdown().await;
    };
    // BuildKit -> client: stdout; BuildKit's EOF ends the command, and so
    // does the pod's deletion (the kubelet kills the container: 137).
    let outbound = async move {
        let mut buf = vec![0u8; 32 * 1024];
        tokio::pin!(pod_gone);
        let exit = loop {
            tokio::select! {
                read = up_read.read(&mut buf) => match read {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => {
                        if sink.send(frame(STDOUT, &buf[..n])).await.is_err() {
                            return;
                        }
                    }
                },
                _ = &mut pod_gone => break Some(137),
            }
        };
        finish(&mut sink, status_frame(protocol, exit, &command)).await;
    };
    let mut inbound = tokio::spawn(inbound);
    tokio::select! {
        _ = outbound => inbound.abort(),
        _ = &mut inbound => {}
    }
}

/// Resolves when the pod the exec runs in is deleted (or marked for
/// deletion), as its container would be killed.
async fn pod_gone(shared: Arc<Shared>, ns: String, pod: String, uid: String) {
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let alive = shared.lock().get("pods", &ns, &pod).is_some_and(|p| {
            p["metadata"]["uid"] == json!(uid) && p["metadata"]["deletionTimestamp"].is_null()
        });
        if !alive {
            return;
        }
        notified.await;
    }
}
