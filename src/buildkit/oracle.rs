//! BuildKit's own verdict on a Dockerfile: the Dockerfile frontend's lint
//! subrequest (`requestid=frontend.lint`, what `docker buildx build
//! --call=check` asks), read as JSON through a gateway client of our own.
//!
//! The differential tests and fuzzer compare [`crate::dockerfile::checks`]
//! with this answer. `buildctl` prints only text, and a plain
//! `Control.Solve` with `requestid=frontend.lint` does not carry the answer
//! back (the solver copies only `frontend.*` metadata keys into the
//! exporter response), so the request goes the way buildx sends it:
//!
//! 1. a `Control.Solve` with no frontend opens a gateway build (the client
//!    is the frontend) with our session (file sync of the Dockerfile);
//! 2. `LLBBridge.Solve` on the same connection, addressed to that build by
//!    the `buildkit-controlapi-buildid` header, runs `dockerfile.v0` with
//!    the subrequest; its result's metadata holds `result.json`;
//! 3. `LLBBridge.Return` ends the gateway build.
//!
//! `bollard-buildkit-proto` 0.8.1 has no gateway types, so the four
//! messages this needs (`moby.buildkit.v1.frontend` in BuildKit's
//! `frontend/gateway/pb/gateway.proto`) are written here with only the
//! fields we use; prost skips the rest of what BuildKit sends.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use bollard_buildkit_proto::google::rpc::Status as RpcStatus;
use bollard_buildkit_proto::moby::buildkit::v1::SolveRequest as ControlSolveRequest;
use serde::{Deserialize, Serialize};
use tonic::transport::Channel;

use super::errors::{decode_solve_status, BuildkitError};
use super::filesync::{FileSyncService, SyncedDir};
use super::session::Session;
use super::Client;

/// `moby.buildkit.v1.frontend.SolveRequest`: a frontend run inside a
/// gateway build (fields 2, 3, 5, 6 of BuildKit's message).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GatewaySolveRequest {
    #[prost(string, tag = "2")]
    pub frontend: String,
    #[prost(map = "string, string", tag = "3")]
    pub frontend_opt: HashMap<String, String>,
    #[prost(bool, tag = "5")]
    pub allow_result_return: bool,
    #[prost(bool, tag = "6")]
    pub allow_result_array_ref: bool,
}

/// `moby.buildkit.v1.frontend.SolveResponse` (field 3, the result).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GatewaySolveResponse {
    #[prost(message, optional, tag = "3")]
    pub result: Option<GatewayResult>,
}

/// `moby.buildkit.v1.frontend.Result`, its metadata only (a subrequest's
/// answer has no refs).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GatewayResult {
    #[prost(map = "string, bytes", tag = "10")]
    pub metadata: HashMap<String, Vec<u8>>,
}

/// `moby.buildkit.v1.frontend.ReturnRequest`: ends the gateway build.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GatewayReturnRequest {
    #[prost(message, optional, tag = "1")]
    pub result: Option<GatewayResult>,
    #[prost(message, optional, tag = "2")]
    pub error: Option<RpcStatus>,
}

/// `moby.buildkit.v1.frontend.ReturnResponse` (empty).
#[derive(Clone, PartialEq, prost::Message)]
pub struct GatewayReturnResponse {}

/// How long a lint may take (it resolves the FROM images' configurations).
const LINT_TIMEOUT: Duration = Duration::from_secs(120);

/// The header that addresses an `LLBBridge` call to a gateway build
/// (BuildKit's `client/buildid`).
const BUILD_ID_HEADER: &str = "buildkit-controlapi-buildid";

/// A 1-based line and 0-based column, as BuildKit's `pb.Position` (JSON
/// omits zero values, hence the defaults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintPosition {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: i32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub character: i32,
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

/// BuildKit's `pb.Range`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintRange {
    #[serde(default)]
    pub start: LintPosition,
    #[serde(default)]
    pub end: LintPosition,
}

/// BuildKit's `pb.Location`: ranges in one source (the Dockerfile).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintLocation {
    #[serde(default, rename = "sourceIndex")]
    pub source_index: i32,
    #[serde(default)]
    pub ranges: Vec<LintRange>,
}

/// One rule finding (`lint.Warning`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintWarning {
    #[serde(rename = "ruleName")]
    pub rule_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub url: String,
    /// The message (`Stage name 'Builder' should be lowercase`).
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub location: LintLocation,
}

/// The error that stops the build (`lint.BuildError`): a parse error, an
/// invalid instruction, a bad `# check=`...
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintBuildError {
    pub message: String,
    #[serde(default)]
    pub location: LintLocation,
}

/// BuildKit's answer for one Dockerfile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LintAnswer {
    #[serde(default)]
    pub warnings: Vec<LintWarning>,
    /// The build error the lint found (`buildError` in `result.json`), or the
    /// error the frontend failed with before linting (e.g. an invalid
    /// `# check=` value), with the source ranges it carried.
    #[serde(
        default,
        rename = "buildError",
        skip_serializing_if = "Option::is_none"
    )]
    pub build_error: Option<LintBuildError>,
}

/// The part of `result.json` we read (`lint.LintResults` without the
/// sources, which repeat the Dockerfile).
#[derive(Deserialize)]
struct LintResultsJson {
    #[serde(default)]
    warnings: Option<Vec<LintWarning>>,
    #[serde(default, rename = "buildError")]
    build_error: Option<LintBuildError>,
}

impl Client {
    /// Asks the daemon's built-in Dockerfile frontend (a `# syntax=`
    /// directive is not followed) to lint `dockerfile` (with the
    /// directory it is in as the build context), with extra frontend
    /// attributes (`context:NAME=docker-image://…` to serve FROM images,
    /// `build-arg:…`).
    pub async fn lint(
        &self,
        dockerfile: &Path,
        attrs: &BTreeMap<String, String>,
    ) -> Result<LintAnswer, BuildkitError> {
        let endpoint = self.driver().endpoint();
        let io_err = |source| BuildkitError::Io {
            what: "cannot resolve the Dockerfile",
            path: dockerfile.display().to_string(),
            source,
        };
        let dockerfile = std::path::absolute(dockerfile).map_err(io_err)?;
        let dir = dockerfile
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let file_sync = FileSyncService::new([
            (
                "context".to_string(),
                SyncedDir::context(&dir, &dockerfile)?,
            ),
            (
                "dockerfile".to_string(),
                SyncedDir::dockerfile(&dockerfile)?,
            ),
        ]);
        let session = Session::new("oracle", &super::session_ref()).with_file_sync(file_sync);
        let session_id = session.id().to_string();
        let _session = session.start(&**self.driver(), self.control()).await?;

        // The gateway build: no frontend, so BuildKit waits for our calls.
        let build_id = super::session_ref();
        let mut control = self.control();
        let gateway_build = ControlSolveRequest {
            r#ref: build_id.clone(),
            session: session_id,
            ..ControlSolveRequest::default()
        };
        let build = tokio::spawn(async move { control.solve(gateway_build).await });
        let _abort = AbortOnDrop(build.abort_handle());

        let mut frontend_opt: HashMap<String, String> = attrs.clone().into_iter().collect();
        frontend_opt.insert("requestid".into(), "frontend.lint".into());
        // As if already forwarded: the daemon's built-in frontend answers,
        // whatever `# syntax=` names (that image would need a pull).
        frontend_opt.insert("cmdline".into(), "dockerfile.v0".into());
        frontend_opt.insert(
            "frontend.caps".into(),
            "moby.buildkit.frontend.subrequests".into(),
        );
        let filename = dockerfile
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into());
        frontend_opt.entry("filename".into()).or_insert(filename);
        let solve = GatewaySolveRequest {
            frontend: "dockerfile.v0".into(),
            frontend_opt,
            allow_result_return: true,
            allow_result_array_ref: true,
        };
        let mut bridge = Bridge::new(self.channel(), &build_id);
        // The layer never hangs: a lint is quick, an image resolution that
        // stalls is not waited for forever.
        let answered = tokio::time::timeout(
            LINT_TIMEOUT,
            bridge.call::<_, GatewaySolveResponse>("Solve", solve),
        )
        .await
        .map_err(|_| {
            BuildkitError::Session(format!(
                "BuildKit at {endpoint} did not answer the lint request within {} s",
                LINT_TIMEOUT.as_secs()
            ))
        })?;
        let answer = match answered {
            Ok(resp) => {
                let meta = resp.result.map(|r| r.metadata).unwrap_or_default();
                let json = meta.get("result.json").ok_or_else(|| {
                    BuildkitError::Unsupported(format!(
                        "BuildKit at {endpoint} answered the lint request without result.json: its Dockerfile frontend predates build checks (needs BuildKit v0.15 or later)"
                    ))
                })?;
                let parsed: LintResultsJson = serde_json::from_slice(json).map_err(|e| {
                    BuildkitError::Session(format!("cannot read BuildKit's result.json: {e}"))
                })?;
                LintAnswer {
                    warnings: parsed.warnings.unwrap_or_default(),
                    build_error: parsed.build_error,
                }
            }
            Err(status) if status.code() == tonic::Code::Unavailable => {
                return Err(BuildkitError::rpc(&endpoint, "LLBBridge.Solve", &status));
            }
            // The frontend failed before linting: BuildKit's error, with
            // the source ranges it attached.
            Err(status) => {
                let failure = decode_solve_status(&status);
                let ranges = failure
                    .source
                    .iter()
                    .flat_map(|s| s.ranges.iter())
                    .map(|r| LintRange {
                        start: LintPosition {
                            line: r.start as i32,
                            character: 0,
                        },
                        end: LintPosition {
                            line: r.end as i32,
                            character: 0,
                        },
                    })
                    .collect();
                LintAnswer {
                    warnings: Vec::new(),
                    build_error: Some(LintBuildError {
                        message: failure.message,
                        location: LintLocation {
                            source_index: 0,
                            ranges,
                        },
                    }),
                }
            }
        };
        // End the gateway build; its own outcome does not matter.
        let end = GatewayReturnRequest {
            result: Some(GatewayResult::default()),
            error: None,
        };
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            bridge.call::<_, GatewayReturnResponse>("Return", end),
        )
        .await;
        let _ = tokio::time::timeout(Duration::from_secs(10), build).await;
        Ok(answer)
    }
}

/// Unary calls on `moby.buildkit.v1.frontend.LLBBridge` for one gateway
/// build, through tonic's generic client.
struct Bridge {
    grpc: tonic::client::Grpc<Channel>,
    build_id: String,
}

impl Bridge {
    fn new(channel: Channel, build_id: &str) -> Bridge {
        Bridge {
            grpc: tonic::client::Grpc::new(channel)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
            build_id: build_id.to_string(),
        }
    }

    async fn call<Req, Resp>(&mut self, method: &str, req: Req) -> Result<Resp, tonic::Status>
    where
        Req: prost::Message + Send + Sync + 'static,
        Resp: prost::Message + Default + Send + Sync + 'static,
    {
        self.grpc
            .ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = http::uri::PathAndQuery::try_from(format!(
            "/moby.buildkit.v1.frontend.LLBBridge/{method}"
        ))
        .map_err(|e| tonic::Status::internal(e.to_string()))?;
        let mut request = tonic::Request::new(req);
        let id = self
            .build_id
            .parse()
            .map_err(|_| tonic::Status::internal("build id is not a valid header value"))?;
        request.metadata_mut().insert(BUILD_ID_HEADER, id);
        let codec = tonic_prost::ProstCodec::<Req, Resp>::default();
        self.grpc
            .unary(request, path, codec)
            .await
            .map(tonic::Response::into_inner)
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `result.json` as BuildKit v0.32.2 wrote it (zero fields omitted by
    /// Go's encoding of `pb.Position`).
    #[test]
    fn reads_buildkits_result_json() {
        let json = br#"{
  "warnings": [
    {
      "ruleName": "StageNameCasing",
      "description": "Stage names should be lowercase",
      "url": "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/",
      "detail": "Stage name 'Build' should be lowercase",
      "location": {"ranges": [{"start": {"line": 1}, "end": {"line": 1}}]}
    }
  ],
  "sources": [{"filename": "Dockerfile", "language": "Dockerfile", "data": "RlJPTQ=="}],
  "buildError": {"message": "unterminated heredoc", "location": {"ranges": [{"start": {"line": 2}, "end": {"line": 2}}]}}
}"#;
        let r: LintResultsJson = serde_json::from_slice(json).unwrap();
        let w = &r.warnings.unwrap()[0];
        assert_eq!(w.rule_name, "StageNameCasing");
        assert_eq!(w.detail, "Stage name 'Build' should be lowercase");
        assert_eq!(w.location.source_index, 0);
        assert_eq!(
            w.location.ranges[0].start,
            LintPosition {
                line: 1,
                character: 0
            }
        );
        let e = r.build_error.unwrap();
        assert_eq!(e.message, "unterminated heredoc");
        assert_eq!(e.location.ranges[0].end.line, 2);
        // No warnings at all: `null` in BuildKit's JSON.
        let r: LintResultsJson =
            serde_json::from_slice(br#"{"warnings":null,"sources":[]}"#).unwrap();
        assert!(r.warnings.is_none() && r.build_error.is_none());
    }

    #[test]
    fn gateway_messages_use_buildkits_field_numbers() {
        use prost::Message;
        let req = GatewaySolveRequest {
            frontend: "dockerfile.v0".into(),
            frontend_opt: HashMap::from([("requestid".into(), "frontend.lint".into())]),
            allow_result_return: true,
            allow_result_array_ref: false,
        };
        let bytes = req.encode_to_vec();
        // Field 2 (Frontend), length-delimited: tag byte 0x12.
        assert_eq!(bytes[0], 0x12);
        // Field 5 (allowResultReturn), varint true: 0x28 0x01 at the end.
        assert_eq!(&bytes[bytes.len() - 2..], &[0x28, 0x01]);
        // A response's result metadata (field 3, then field 10 of Result).
        let resp = GatewaySolveResponse {
            result: Some(GatewayResult {
                metadata: HashMap::from([("result.json".into(), b"{}".to_vec())]),
            }),
        };
        let back = GatewaySolveResponse::decode(resp.encode_to_vec().as_slice()).unwrap();
        assert_eq!(back.result.unwrap().metadata["result.json"], b"{}");
    }
}
