//! Framing in front of the protocol library. `tower-lsp-server` ends its read
//! loop at the first message it cannot decode (invalid JSON, or JSON that is
//! not JSON-RPC), which would silently stop the server. So stdin is read here
//! first: well-formed messages are forwarded unchanged, malformed ones are
//! answered with the JSON-RPC error (-32700 parse error, -32600 invalid
//! request) and dropped. Responses from the library and these errors are
//! written to stdout one whole frame at a time.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::UnboundedSender;

/// Messages larger than this are refused (read and discarded) rather than
/// buffered: a bogus `Content-Length` must not exhaust memory.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// Why a message body was refused, as the JSON-RPC error to answer with.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub code: i64,
    pub message: String,
    pub id: Value,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

fn present_any<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(d).map(|_| true)
}

/// Only the fields that decide validity; `params` and `result` are skipped
/// without being built, so large documents are not parsed into values twice.
#[derive(Deserialize)]
struct Probe {
    #[serde(default, deserialize_with = "present")]
    jsonrpc: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    method: Option<Value>,
    #[serde(default, deserialize_with = "present_any")]
    result: bool,
    #[serde(default, deserialize_with = "present")]
    error: Option<Value>,
}

/// Checks that a body is a JSON-RPC 2.0 request, notification or response
/// the protocol library can decode.
pub fn check(body: &[u8]) -> Result<(), Refusal> {
    // serde would read a JSON array as the struct's fields in order.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let code = match serde_json::from_slice::<IgnoredAny>(body) {
            Ok(_) => -32600,
            Err(_) => -32700,
        };
        return Err(Refusal {
            code,
            message: "a JSON-RPC message must be a JSON object".to_string(),
            id: Value::Null,
        });
    }
    let probe: Probe = match serde_json::from_slice::<Probe>(body) {
        Ok(p) => p,
        Err(e) if e.is_data() => {
            return Err(Refusal {
                code: -32600,
                message: format!("invalid request: {e}"),
                id: Value::Null,
            })
        }
        Err(e) => {
            return Err(Refusal {
                code: -32700,
                message: format!("parse error: {e}"),
                id: Value::Null,
            })
        }
    };
    let id_ok = match &probe.id {
        None | Some(Value::Null) | Some(Value::String(_)) => true,
        Some(Value::Number(n)) => n.is_i64(),
        Some(_) => false,
    };
    let reply_id = if id_ok {
        probe.id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    let invalid = |why: &str| Refusal {
        code: -32600,
        message: format!("invalid request: {why}"),
        id: reply_id.clone(),
    };
    if probe.jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("`jsonrpc` must be \"2.0\""));
    }
    if !id_ok {
        return Err(invalid("`id` must be an integer or a string"));
    }
    match (&probe.method, probe.id.is_some()) {
        (Some(Value::String(_)), _) => Ok(()),
        (Some(_), _) => Err(invalid("`method` must be a string")),
        (None, true) if probe.result => Ok(()),
        (None, true) => match &probe.error {
            Some(e)
                if e.get("code").is_some_and(Value::is_i64)
                    && e.get("message").is_some_and(Value::is_string) =>
            {
                Ok(())
            }
            _ => Err(invalid(
                "a response needs `result` or an `error` with `code` and `message`",
            )),
        },
        (None, false) => Err(invalid(
            "neither a request (`method`) nor a response (`id`)",
        )),
    }
}

/// One framed message.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Reads one frame's body: `Ok(None)` at end of input. Header lines other
/// than `Content-Length` are ignored; a header block without it is skipped.
async fn read_frame<R: AsyncRead + Unpin>(
    r: &mut BufReader<R>,
) -> std::io::Result<Option<FrameBody>> {
    loop {
        let mut len: Option<usize> = None;
        let mut saw_header = false;
        loop {
            let mut line = Vec::new();
            if r.read_until(b'\n', &mut line).await? == 0 {
                return Ok(None);
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                if saw_header {
                    break;
                }
                continue;
            }
            saw_header = true;
            if let Some((name, value)) = text.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    len = value.trim().parse().ok();
                }
            }
        }
        let Some(len) = len else {
            tracing::warn!("a message header without a valid Content-Length: skipped");
            continue;
        };
        if len > MAX_MESSAGE_BYTES {
            tokio::io::copy(&mut (&mut *r).take(len as u64), &mut tokio::io::sink()).await?;
            return Ok(Some(FrameBody::TooLarge(len)));
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).await?;
        return Ok(Some(FrameBody::Body(body)));
    }
}

enum FrameBody {
    Body(Vec<u8>),
    TooLarge(usize),
}

fn error_frame(r: &Refusal) -> Vec<u8> {
    let msg =
        json!({"jsonrpc": "2.0", "id": r.id, "error": {"code": r.code, "message": r.message}});
    frame(msg.to_string().as_bytes())
}

/// Copies well-formed messages from `input` to `server`, answering malformed
/// ones through `out`. `shortcut` sees every well-formed message first and
/// may answer a request itself (the response body), which then never
/// reaches the library. Returns at end of input.
pub async fn sanitize<R, W, S>(
    input: R,
    mut server: W,
    out: UnboundedSender<Vec<u8>>,
    mut shortcut: S,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
    S: FnMut(&[u8]) -> Option<Vec<u8>>,
{
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    loop {
        let body = match read_frame(&mut reader).await {
            Ok(Some(FrameBody::Body(b))) => b,
            Ok(Some(FrameBody::TooLarge(n))) => {
                tracing::warn!(
                    "a {n}-byte message exceeds the {MAX_MESSAGE_BYTES}-byte limit: refused"
                );
                let r = Refusal {
                    code: -32600,
                    message: format!(
                        "message of {n} bytes exceeds the limit of {MAX_MESSAGE_BYTES}"
                    ),
                    id: Value::Null,
                };
                let _ = out.send(error_frame(&r));
                continue;
            }
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("reading stdin failed: {e}");
                return;
            }
        };
        match check(&body) {
            Ok(()) => {
                if let Some(answer) = shortcut(&body) {
                    let _ = out.send(frame(&answer));
                    continue;
                }
                let head = format!("Content-Length: {}\r\n\r\n", body.len());
                if server.write_all(head.as_bytes()).await.is_err()
                    || server.write_all(&body).await.is_err()
                    || server.flush().await.is_err()
                {
                    return; // the protocol loop has ended
                }
            }
            Err(refusal) => {
                tracing::warn!("refused a message: {}", refusal.message);
                let _ = out.send(error_frame(&refusal));
            }
        }
    }
}

/// Splits the library's output into whole frames and hands them to `out`,
/// so they never interleave with the errors `sanitize` writes.
pub async fn frames<R: AsyncRead + Unpin>(library_out: R, out: UnboundedSender<Vec<u8>>) {
    let mut reader = BufReader::with_capacity(64 * 1024, library_out);
    while let Ok(Some(FrameBody::Body(body))) = read_frame(&mut reader).await {
        if out.send(frame(&body)).is_err() {
            return;
        }
    }
}

/// Writes frames to stdout until every sender is gone.
pub async fn write_frames<W: AsyncWrite + Unpin>(
    mut stdout: W,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
) {
    while let Some(f) = rx.recv().await {
        if stdout.write_all(&f).await.is_err() || stdout.flush().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_requests_notifications_and_responses() {
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":[1]}}"#),
            Ok(())
        );
        assert_eq!(check(br#"{"jsonrpc":"2.0","method":"x"}"#), Ok(()));
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":"a","result":null}"#),
            Ok(())
        );
        assert_eq!(
            check(br#"{"jsonrpc":"2.0","id":3,"error":{"code":-1,"message":"m"}}"#),
            Ok(())
        );
    }

    #[test]
    fn refuses_what_the_library_cannot_decode() {
        let code = |b: &[u8]| check(b).map_err(|r| (r.code, r.id));
        assert_eq!(code(b"{\"jsonrpc\":"), Err((-32700, Value::Null)));
        assert_eq!(code(b""), Err((-32700, Value::Null)));
        assert_eq!(code(b"[1,2]"), Err((-32600, Value::Null)));
        assert_eq!(
            code(br#"{"jsonrpc":"1.0","id":4,"method":"x"}"#),
            Err((-32600, json!(4)))
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#),
            Err((-32600, Value::Null))
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#),
            Err((-32600, Value::Null))
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":5,"method":7}"#),
            Err((-32600, json!(5)))
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":6}"#),
            Err((-32600, json!(6)))
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":6,"error":{"code":"x"}}"#),
            Err((-32600, json!(6)))
        );
    }
}
