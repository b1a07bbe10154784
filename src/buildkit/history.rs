//! BuildKit's build history: `Control.ListenBuildHistory` (BuildKit 0.11
//! and later) lists the build records the daemon keeps, for builds from any
//! client; a record's progress log is a blob of the daemon's content store
//! (containerd's `Content/Read` on the same connection), a run of
//! `StatusResponse` messages each after a 4-byte little-endian length, which
//! folds into the build's steps.

use std::collections::HashMap;
use std::time::Duration;

use bollard_buildkit_proto::moby::buildkit::v1::{
    BuildHistoryEventType, BuildHistoryRecord, BuildHistoryRequest, StatusResponse,
};
use prost::Message;

use super::progress::{decode, ProgressEvent};
use super::{BuildkitError, Client};
use crate::insight::history::{epoch, HistoryBuild, HistoryStep};

/// How long the daemon may take to list its records.
const LIST_WITHIN: Duration = Duration::from_secs(20);

/// What BuildKit before 0.11 (Docker Engine 20.10's 0.8, say) answers.
pub const NO_HISTORY: &str = "this builder's BuildKit keeps no build history: build records need BuildKit 0.11 or later (Docker Engine 23 or later, or a docker-container builder with a current BuildKit)";

/// containerd's `ReadContentRequest`.
#[derive(Clone, PartialEq, Message)]
struct ReadContentRequest {
    #[prost(string, tag = "1")]
    digest: String,
    #[prost(int64, tag = "2")]
    offset: i64,
    #[prost(int64, tag = "3")]
    size: i64,
}

/// containerd's `ReadContentResponse`.
#[derive(Clone, PartialEq, Message)]
struct ReadContentResponse {
    #[prost(int64, tag = "1")]
    offset: i64,
    #[prost(bytes = "vec", tag = "2")]
    data: Vec<u8>,
}

/// The daemon's build records, newest first.
pub async fn list(client: &Client) -> Result<Vec<HistoryBuild>, BuildkitError> {
    let endpoint = client.driver().endpoint();
    let rpc = |s: &tonic::Status| match s.code() {
        tonic::Code::Unimplemented => BuildkitError::Unsupported(NO_HISTORY.to_string()),
        _ => BuildkitError::rpc(&endpoint, "ListenBuildHistory", s),
    };
    let mut control = client.control();
    let request = BuildHistoryRequest {
        early_exit: true,
        ..BuildHistoryRequest::default()
    };
    let work = async {
        let mut stream = control
            .listen_build_history(request)
            .await
            .map_err(|s| rpc(&s))?
            .into_inner();
        let mut records: HashMap<String, BuildHistoryRecord> = HashMap::new();
        while let Some(ev) = stream.message().await.map_err(|s| rpc(&s))? {
            let Some(rec) = ev.record else { continue };
            if ev.r#type == BuildHistoryEventType::Deleted as i32 {
                records.remove(&rec.r#ref);
            } else {
                records.insert(rec.r#ref.clone(), rec);
            }
        }
        Ok::<_, BuildkitError>(records)
    };
    let records = tokio::time::timeout(LIST_WITHIN, work)
        .await
        .map_err(|_| BuildkitError::Transport {
            endpoint: endpoint.clone(),
            detail: format!("ListenBuildHistory did not answer in {LIST_WITHIN:?}"),
        })??;
    let mut builds: Vec<HistoryBuild> = records.into_values().map(build_of).collect();
    builds.sort_by(|a, b| b.created.cmp(&a.created).then(a.r#ref.cmp(&b.r#ref)));
    Ok(builds)
}

fn build_of(rec: BuildHistoryRecord) -> HistoryBuild {
    let time = |t: &Option<bollard_buildkit_proto::google::protobuf::Timestamp>| {
        t.as_ref()
            .filter(|t| t.seconds >= 0 && t.nanos >= 0)
            .map(|t| std::time::UNIX_EPOCH + Duration::new(t.seconds as u64, t.nanos as u32))
    };
    let created = time(&rec.created_at);
    let completed = time(&rec.completed_at);
    let attr = |k: &str| rec.frontend_attrs.get(k).filter(|v| !v.is_empty()).cloned();
    let response = |k: &str| {
        rec.exporter_response
            .get(k)
            .filter(|v| !v.is_empty())
            .cloned()
    };
    HistoryBuild {
        r#ref: rec.r#ref.clone(),
        frontend: rec.frontend.clone(),
        target: attr("target"),
        filename: attr("filename"),
        created: created.map(epoch),
        duration_ms: match (created, completed) {
            (Some(c), Some(d)) => d.duration_since(c).ok().map(|d| d.as_millis() as u64),
            _ => None,
        },
        ok: completed.map(|_| rec.error.as_ref().is_none_or(|e| e.code == 0)),
        error: rec
            .error
            .as_ref()
            .filter(|e| e.code != 0)
            .map(|e| e.message.clone()),
        cached_steps: rec.num_cached_steps.max(0) as u32,
        total_steps: rec.num_total_steps.max(0) as u32,
        image: response("image.name").or_else(|| response("containerimage.digest")),
        logs: rec
            .logs
            .as_ref()
            .map(|d| d.digest.clone())
            .filter(|d| !d.is_empty()),
    }
}

/// The steps of a recorded build, from its progress log in the daemon's
/// content store (none when the record kept no log).
pub async fn steps(
    client: &Client,
    build: &HistoryBuild,
) -> Result<Vec<HistoryStep>, BuildkitError> {
    let Some(digest) = &build.logs else {
        return Ok(Vec::new());
    };
    let blob = read_blob(client, digest).await?;
    Ok(fold_steps(&blob))
}

/// Reads a blob of the daemon's content store.
async fn read_blob(client: &Client, digest: &str) -> Result<Vec<u8>, BuildkitError> {
    let endpoint = client.driver().endpoint();
    let rpc = |s: tonic::Status| BuildkitError::rpc(&endpoint, "Content.Read", &s);
    let mut grpc = tonic::client::Grpc::new(client.channel());
    grpc.ready()
        .await
        .map_err(|e| rpc(tonic::Status::unavailable(e.to_string())))?;
    let path = http::uri::PathAndQuery::from_static("/containerd.services.content.v1.Content/Read");
    let codec = tonic_prost::ProstCodec::<ReadContentRequest, ReadContentResponse>::default();
    let request = tonic::Request::new(ReadContentRequest {
        digest: digest.to_string(),
        ..ReadContentRequest::default()
    });
    let work = async {
        let mut stream = grpc
            .server_streaming(request, path, codec)
            .await
            .map_err(rpc)?
            .into_inner();
        let mut out = Vec::new();
        while let Some(chunk) = stream.message().await.map_err(rpc)? {
            out.extend_from_slice(&chunk.data);
        }
        Ok::<_, BuildkitError>(out)
    };
    tokio::time::timeout(LIST_WITHIN, work)
        .await
        .map_err(|_| BuildkitError::Transport {
            endpoint: endpoint.clone(),
            detail: format!("Content.Read did not answer in {LIST_WITHIN:?}"),
        })?
}

/// The steps of a progress log: frames of `StatusResponse`, each after its
/// length (4 bytes, little-endian). A damaged tail is ignored.
pub fn fold_steps(blob: &[u8]) -> Vec<HistoryStep> {
    let mut order: Vec<String> = Vec::new();
    let mut steps: HashMap<String, (HistoryStep, Option<std::time::SystemTime>)> = HashMap::new();
    let mut rest = blob;
    while rest.len() >= 4 {
        let n = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let Some(frame) = rest.get(4..4 + n) else {
            break;
        };
        rest = &rest[4 + n..];
        let Ok(resp) = StatusResponse::decode(frame) else {
            break;
        };
        for ev in decode(&resp) {
            let ProgressEvent::Vertex(v) = ev else {
                continue;
            };
            let (step, started) = steps.entry(v.digest.clone()).or_insert_with(|| {
                order.push(v.digest.clone());
                (HistoryStep::default(), None)
            });
            if step.name.is_empty() {
                step.name = v.name.clone();
            }
            step.cached |= v.cached;
            if v.started.is_some() {
                *started = v.started;
            }
            if let (Some(s), Some(c)) = (*started, v.completed) {
                step.duration_ms = c.duration_since(s).ok().map(|d| d.as_millis() as u64);
            }
            if v.error.is_some() {
                step.error = v.error.clone();
            }
        }
    }
    order
        .into_iter()
        .filter_map(|d| steps.remove(&d).map(|(s, _)| s))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard_buildkit_proto::google::protobuf::Timestamp;
    use bollard_buildkit_proto::moby::buildkit::v1::Vertex;

    fn frame(v: Vertex) -> Vec<u8> {
        let msg = StatusResponse {
            vertexes: vec![v],
            ..StatusResponse::default()
        }
        .encode_to_vec();
        let mut out = (msg.len() as u32).to_le_bytes().to_vec();
        out.extend(msg);
        out
    }

    #[test]
    fn a_progress_log_folds_into_steps_in_order() {
        let at = |s: i64, ms: i32| {
            Some(Timestamp {
                seconds: s,
                nanos: ms * 1_000_000,
            })
        };
        let mut blob = frame(Vertex {
            digest: "a".into(),
            name: "[1/2] FROM x".into(),
            cached: true,
            ..Vertex::default()
        });
        blob.extend(frame(Vertex {
            digest: "b".into(),
            name: "[2/2] RUN y".into(),
            started: at(10, 0),
            ..Vertex::default()
        }));
        blob.extend(frame(Vertex {
            digest: "b".into(),
            name: "[2/2] RUN y".into(),
            started: at(10, 0),
            completed: at(11, 500),
            ..Vertex::default()
        }));
        blob.extend([9, 0, 0, 0, 1]); // a cut-off frame
        let steps = fold_steps(&blob);
        assert_eq!(steps.len(), 2);
        assert!(steps[0].cached);
        assert_eq!(steps[1].duration_ms, Some(1500));
        assert_eq!(steps[1].name, "[2/2] RUN y");
    }
}
