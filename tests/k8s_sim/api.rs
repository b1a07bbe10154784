//! The REST surface: routing of `/api/v1/…` and `/apis/{group}/{version}/…`,
//! authentication, discovery and `/version`, and the verbs (get, list,
//! watch, create, update, patch, delete, deletecollection) with the status
//! codes and `kind: Status` bodies of a real API server.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use super::controllers;
use super::selector::{FieldSelector, LabelSelector};
use super::server::{full, Body, ConnInfo};
use super::store::{self, meta_mut, Recorded, ResourceType, Shared, RESOURCES};
use super::validate;
use super::Auth;

/// A failed request, answered as a `kind: Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub fn not_found(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: Some(details(rt, name)),
            ..ApiError::new(
                404,
                "NotFound",
                format!("{} \"{name}\" not found", rt.qualified()),
            )
        }
    }

    pub fn already_exists(rt: &ResourceType, name: &str) -> ApiError {
        ApiError {
            details: Some(details(rt, name)),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", rt.qualified()),
            )
        }
    }

    pub fn conflict(rt: &ResourceType, name: &str, why: &str) -> ApiError {
        ApiError {
            details: Some(details(rt, name)),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{name}\": {why}",
                    rt.qualified()
                ),
            )
        }
    }

    /// 422 with one cause per failed field, worded as the API server does.
    pub fn invalid(rt: &ResourceType, name: &str, causes: Vec<validate::Cause>) -> ApiError {
        let parts: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if parts.len() == 1 {
            parts[0].clone()
        } else {
            format!("[{}]", parts.join(", "))
        };
        let mut d = json!({
            "name": name,
            "kind": rt.kind,
            "causes": causes.iter().map(|c| json!({
                "reason": c.reason,
                "message": c.message,
                "field": c.field,
            })).collect::<Vec<_>>(),
        });
        if !rt.group.is_empty() {
            d["group"] = json!(rt.group);
        }
        ApiError {
            details: Some(d),
            ..ApiError::new(
                422,
                "Invalid",
                format!("{} \"{name}\" is invalid: {joined}", rt.qualified_kind()),
            )
        }
    }

    pub fn status_body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }

    pub fn response(&self) -> Response<Body> {
        json_response(self.code, &self.status_body())
    }
}

fn details(rt: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": rt.plural});
    if !rt.group.is_empty() {
        d["group"] = json!(rt.group);
    }
    d
}

pub fn json_response(code: u16, body: &Value) -> Response<Body> {
    let mut text = body.to_string();
    text.push('\n');
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json")
        .header("audit-id", store::new_uid())
        .header("cache-control", "no-cache, private")
        .body(full(text))
        .unwrap_or_else(|_| Response::new(full("")))
}

/// `?a=1&b=x%20y&command=a&command=b` as (name, value) pairs, decoded.
pub fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex_pair = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b[i], hex_pair) {
            (b'+', _) => out.push(b' '),
            (b'%', Some(x)) => {
                out.push(x);
                i += 2;
            }
            (c, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters as a map (last value wins) for the simple ones.
fn query_map(q: &[(String, String)]) -> HashMap<String, String> {
    q.iter().cloned().collect()
}

fn is_true(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("true" | "1" | "True"))
}

/// Routes one request.
pub async fn handle(shared: Arc<Shared>, conn: ConnInfo, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();

    let is_exec = segs.len() == 7
        && segs[0] == "api"
        && segs[2] == "namespaces"
        && segs[4] == "pods"
        && segs[6] == "exec";
    if is_exec {
        shared.lock().requests.push(Recorded {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            body: Value::Null,
        });
        if let Err(e) = authenticate(&shared, &conn, &req) {
            return e.response();
        }
        return super::exec::handle(shared, req, segs[3].clone(), segs[5].clone(), query).await;
    }

    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let auth = authenticate(&shared, &conn, &req);
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body: Value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    shared.lock().requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
    });
    if let Err(e) = auth {
        return e.response();
    }
    if !bytes.is_empty() && body.is_null() {
        return ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: {}",
            serde_json::from_slice::<Value>(&bytes)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        ))
        .response();
    }
    let q = parse_query(&query);
    match route(&shared, &method, &segs, &q, body, &content_type).await {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

fn authenticate(shared: &Shared, conn: &ConnInfo, req: &Request<Incoming>) -> Result<(), ApiError> {
    let ok = match &shared.opts.auth {
        Auth::Token(t) => req
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {t}")),
        Auth::ClientCert => conn.client_cert,
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(401, "Unauthorized", "Unauthorized"))
    }
}

enum Target {
    Collection(&'static ResourceType, Option<String>),
    Object(&'static ResourceType, Option<String>, String),
    Sub(&'static ResourceType, Option<String>, String, String),
}

fn not_found_path() -> ApiError {
    ApiError {
        details: Some(json!({})),
        ..ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
    }
}

async fn route(
    shared: &Arc<Shared>,
    method: &str,
    segs: &[String],
    q: &[(String, String)],
    body: Value,
    content_type: &str,
) -> Result<Response<Body>, ApiError> {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let (group, version, rest) = match s.as_slice() {
        ["version"] => return Ok(json_response(200, &version_doc())),
        ["healthz"] | ["livez"] | ["readyz"] => {
            return Ok(Response::builder()
                .header("content-type", "text/plain; charset=utf-8")
                .body(full("ok"))
                .unwrap_or_else(|_| Response::new(full("ok"))))
        }
        ["api"] => return Ok(json_response(200, &api_versions(shared))),
        ["apis"] => return Ok(json_response(200, &api_groups())),
        ["apis", g] => {
            return api_groups()["groups"]
                .as_array()
                .and_then(|gs| gs.iter().find(|x| x["name"] == *g).cloned())
                .map(|mut grp| {
                    grp["kind"] = json!("APIGroup");
                    grp["apiVersion"] = json!("v1");
                    json_response(200, &grp)
                })
                .ok_or_else(not_found_path)
        }
        ["api", "v1"] => return Ok(json_response(200, &resource_list("", "v1"))),
        ["apis", g, v] => {
            let list = resource_list(g, v);
            if list["resources"].as_array().is_none_or(|r| r.is_empty()) {
                return Err(not_found_path());
            }
            return Ok(json_response(200, &list));
        }
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found_path()),
    };
    let rt_of = |plural: &str| store::resource(group, version, plural).ok_or_else(not_found_path);
    let target = match rest {
        ["namespaces"] => Target::Collection(rt_of("namespaces")?, None),
        ["namespaces", name] => Target::Object(rt_of("namespaces")?, None, name.to_string()),
        ["namespaces", ns, plural] => {
            let rt = rt_of(plural);
            match rt {
                Ok(rt) if rt.namespaced => Target::Collection(rt, Some(ns.to_string())),
                // `namespaces/{name}/status` and `/finalize`
                _ if group.is_empty() && matches!(*plural, "status" | "finalize") => Target::Sub(
                    rt_of("namespaces")?,
                    None,
                    ns.to_string(),
                    plural.to_string(),
                ),
                _ => return Err(not_found_path()),
            }
        }
        ["namespaces", ns, plural, name] => {
            let rt = rt_of(plural)?;
            if !rt.namespaced {
                return Err(not_found_path());
            }
            Target::Object(rt, Some(ns.to_string()), name.to_string())
        }
        ["namespaces", ns, plural, name, sub] => {
            let rt = rt_of(plural)?;
            if !rt.namespaced {
                return Err(not_found_path());
            }
            Target::Sub(rt, Some(ns.to_string()), name.to_string(), sub.to_string())
        }
        [plural] => Target::Collection(rt_of(plural)?, None),
        [plural, name] => {
            let rt = rt_of(plural)?;
            if rt.namespaced {
                return Err(not_found_path());
            }
            Target::Object(rt, None, name.to_string())
        }
        _ => return Err(not_found_path()),
    };
    let qm = query_map(q);
    match (method, target) {
        ("GET", Target::Collection(rt, ns)) => {
            if is_true(qm.get("watch")) {
                watch(shared, rt, ns, &qm)
            } else {
                list(shared, rt, ns.as_deref(), &qm)
            }
        }
        ("POST", Target::Collection(rt, Some(ns))) => {
            let obj = create(shared, rt, &ns, body, &qm)?;
            Ok(json_response(201, &obj))
        }
        ("POST", Target::Collection(rt, None)) if !rt.namespaced => {
            let obj = create(shared, rt, "", body, &qm)?;
            Ok(json_response(201, &obj))
        }
        ("DELETE", Target::Collection(rt, Some(ns))) => {
            delete_collection(shared, rt, &ns, body, &qm)
        }
        ("GET", Target::Object(rt, ns, name)) => {
            let ns = ns.unwrap_or_default();
            let st = shared.lock();
            st.get(rt.plural, &ns, &name)
                .map(|o| json_response(200, o))
                .ok_or_else(|| ApiError::not_found(rt, &name))
        }
        ("PUT", Target::Object(rt, ns, name)) => {
            let obj = update(shared, rt, &ns.unwrap_or_default(), &name, body, false)?;
            Ok(json_response(200, &obj))
        }
        ("PATCH", Target::Object(rt, ns, name)) => {
            let (code, obj) = patch(
                shared,
                rt,
                &ns.unwrap_or_default(),
                &name,
                body,
                content_type,
                &qm,
                false,
            )?;
            Ok(json_response(code, &obj))
        }
        ("DELETE", Target::Object(rt, ns, name)) => {
            let (code, v) = delete(shared, rt, &ns.unwrap_or_default(), &name, &body, &qm)?;
            Ok(json_response(code, &v))
        }
        ("GET", Target::Sub(rt, ns, name, sub)) if sub == "status" => {
            let ns = ns.unwrap_or_default();
            let st = shared.lock();
            st.get(rt.plural, &ns, &name)
                .map(|o| json_response(200, o))
                .ok_or_else(|| ApiError::not_found(rt, &name))
        }
        ("PUT", Target::Sub(rt, ns, name, sub)) if sub == "status" => {
            let obj = update(shared, rt, &ns.unwrap_or_default(), &name, body, true)?;
            Ok(json_response(200, &obj))
        }
        ("PATCH", Target::Sub(rt, ns, name, sub)) if sub == "status" => {
            let (code, obj) = patch(
                shared,
                rt,
                &ns.unwrap_or_default(),
                &name,
                body,
                content_type,
                &qm,
                true,
            )?;
            Ok(json_response(code, &obj))
        }
        (m, Target::Sub(rt, Some(ns), name, sub))
            if sub == "scale"
                && matches!(rt.plural, "deployments" | "statefulsets" | "replicasets") =>
        {
            scale(shared, rt, &ns, &name, m, body)
        }
        (_, Target::Sub(..)) => Err(not_found_path()),
        _ => Err(ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )),
    }
}

fn version_doc() -> Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": "v1.33.0",
        "gitCommit": "60a317eadfcb839692a68eab88b2096f4d708f4f",
        "gitTreeState": "clean",
        "buildDate": "2025-04-23T13:06:30Z",
        "goVersion": "go1.24.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn api_versions(shared: &Shared) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": shared.addr.to_string()}
        ],
    })
}

fn api_groups() -> Value {
    let mut groups: Vec<&str> = RESOURCES
        .iter()
        .map(|r| r.group)
        .filter(|g| !g.is_empty())
        .collect();
    groups.dedup();
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": groups.iter().map(|g| json!({
            "name": g,
            "versions": [{"groupVersion": format!("{g}/v1"), "version": "v1"}],
            "preferredVersion": {"groupVersion": format!("{g}/v1"), "version": "v1"},
        })).collect::<Vec<_>>(),
    })
}

fn resource_list(group: &str, version: &str) -> Value {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let mut resources = Vec::new();
    for r in RESOURCES
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        resources.push(json!({
            "name": r.plural,
            "singularName": r.kind.to_ascii_lowercase(),
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
            "shortNames": r.short_names,
        }));
        resources.push(json!({
            "name": format!("{}/status", r.plural),
            "singularName": "",
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["get", "patch", "update"],
        }));
        if matches!(r.plural, "deployments" | "statefulsets" | "replicasets") {
            resources.push(json!({
                "name": format!("{}/scale", r.plural),
                "singularName": "",
                "namespaced": true,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
        if r.plural == "pods" {
            resources.push(json!({
                "name": "pods/exec",
                "singularName": "",
                "namespaced": true,
                "kind": "PodExecOptions",
                "verbs": ["create", "get"],
            }));
        }
    }
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    })
}

/// The label and field selectors of a list or watch.
fn selectors(
    rt: &ResourceType,
    qm: &HashMap<String, String>,
) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(qm.get("labelSelector").map(String::as_str).unwrap_or(""))
        .map_err(ApiError::bad_request)?;
    let fields = FieldSelector::parse(
        qm.get("fieldSelector").map(String::as_str).unwrap_or(""),
        rt.field_labels,
    )
    .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

/// List items carry no `kind`/`apiVersion`, as the API server sends them.
fn list_item(mut v: Value) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.remove("kind");
        m.remove("apiVersion");
    }
    v
}

fn list(
    shared: &Shared,
    rt: &'static ResourceType,
    ns: Option<&str>,
    qm: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(rt, qm)?;
    let st = shared.lock();
    let mut items: Vec<Value> = st
        .list(rt.plural, ns)
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect();
    let rv = st.rv.to_string();
    drop(st);
    let mut meta = json!({"resourceVersion": rv});
    // Pagination: the continue token is the position to resume at.
    let start: usize = match qm.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::bad_request("continue key is not valid: illegal base64 data"))?,
        None => 0,
    };
    items = items.into_iter().skip(start).collect();
    if let Some(limit) = qm
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
    {
        if items.len() > limit {
            let remaining = items.len() - limit;
            items.truncate(limit);
            meta["continue"] = json!((start + limit).to_string());
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    Ok(json_response(
        200,
        &json!({
            "kind": format!("{}List", rt.kind),
            "apiVersion": rt.api_version(),
            "metadata": meta,
            "items": items.into_iter().map(list_item).collect::<Vec<_>>(),
        }),
    ))
}

fn watch(
    shared: &Arc<Shared>,
    rt: &'static ResourceType,
    ns: Option<String>,
    qm: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(rt, qm)?;
    let from: Option<u64> = match qm.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(v) => Some(v.parse().map_err(|_| {
            ApiError::bad_request(format!(
                "invalid resource version: strconv.ParseUint: parsing {v:?}: invalid syntax"
            ))
        })?),
    };
    let timeout = qm
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(64);
    let shared = shared.clone();
    tokio::spawn(async move {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        let matches = |o: &Value| labels.matches(o) && fields.matches(o);
        let line = |kind: &str, object: &Value| {
            let mut s = json!({"type": kind, "object": object}).to_string();
            s.push('\n');
            Ok(Frame::data(Bytes::from(s)))
        };
        // Without a resourceVersion a watch starts with the current state
        // as synthetic ADDED events.
        let (initial, mut cursor) = {
            let st = shared.lock();
            match from {
                None => (
                    st.list(rt.plural, ns.as_deref())
                        .into_iter()
                        .filter(|o| matches(o))
                        .collect::<Vec<_>>(),
                    st.history.len(),
                ),
                Some(rv) => (Vec::new(), st.history.partition_point(|c| c.rv <= rv)),
            }
        };
        for o in initial {
            if tx.send(line("ADDED", &o)).await.is_err() {
                return;
            }
        }
        loop {
            let notified = shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let events: Vec<(&'static str, Value)> = {
                let st = shared.lock();
                let out = st.history[cursor..]
                    .iter()
                    .filter(|c| {
                        c.plural == rt.plural && ns.as_ref().is_none_or(|n| *n == c.namespace)
                    })
                    .filter_map(|c| {
                        let now = matches(&c.object);
                        match c.kind {
                            "MODIFIED" => {
                                let before = c.previous.as_ref().map(&matches).unwrap_or(now);
                                match (before, now) {
                                    (true, true) => Some(("MODIFIED", c.object.clone())),
                                    (false, true) => Some(("ADDED", c.object.clone())),
                                    (true, false) => Some(("DELETED", c.object.clone())),
                                    (false, false) => None,
                                }
                            }
                            k if now => Some((k, c.object.clone())),
                            _ => None,
                        }
                    })
                    .collect();
                cursor = st.history.len();
                out
            };
            for (kind, o) in events {
                if tx.send(line(kind, &o)).await.is_err() {
                    return;
                }
            }
            let expire = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = notified => {}
                _ = expire => return,
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let body: Body = BodyExt::boxed(http_body_util::StreamBody::new(stream));
    Ok(Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("cache-control", "no-cache, private")
        .body(body)
        .unwrap_or_else(|_| Response::new(full(""))))
}

fn check_type(rt: &ResourceType, body: &Value) -> Result<(), ApiError> {
    if let Some(av) = body["apiVersion"].as_str() {
        if av != rt.api_version() {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
    }
    if let Some(k) = body["kind"].as_str() {
        if k != rt.kind {
            return Err(ApiError::bad_request(format!(
                "{k} in version \"{}\" cannot be handled as a {}: the object provided is unrecognized (must be of type {})",
                rt.version, rt.kind, rt.kind
            )));
        }
    }
    Ok(())
}

fn create(
    shared: &Arc<Shared>,
    rt: &'static ResourceType,
    ns: &str,
    mut body: Value,
    qm: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("Object 'Kind' is missing in '{}'"));
    }
    check_type(rt, &body)?;
    if let Some(bns) = body["metadata"]["namespace"].as_str() {
        if !ns.is_empty() && !bns.is_empty() && bns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    validate::decode(rt, &body).map_err(ApiError::bad_request)?;
    body["kind"] = json!(rt.kind);
    body["apiVersion"] = json!(rt.api_version());
    let mut name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        if let Some(g) = body["metadata"]["generateName"]
            .as_str()
            .filter(|g| !g.is_empty())
        {
            name = format!("{g}{}", store::random_suffix(5));
            meta_mut(&mut body).insert("name".into(), json!(name));
        }
    }
    let causes = validate::object(rt, &body);
    if !causes.is_empty() {
        return Err(ApiError::invalid(rt, &name, causes));
    }
    validate::apply_defaults(rt, &mut body);
    // Server-owned fields are not taken from the client.
    if let Some(m) = body["metadata"].as_object_mut() {
        for k in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "managedFields",
        ] {
            m.remove(k);
        }
    }
    if matches!(
        rt.plural,
        "deployments" | "statefulsets" | "replicasets" | "pods"
    ) {
        meta_mut(&mut body).insert("generation".into(), json!(1));
    }
    let dry_run = qm.contains_key("dryRun");
    let created = controllers::run(shared, |st| {
        if !ns.is_empty() && st.get("namespaces", "", ns).is_none() {
            let nsrt = store::resource_by_plural("namespaces").expect("namespaces type");
            return (Err(ApiError::not_found(nsrt, ns)), Vec::new());
        }
        if st.get(rt.plural, ns, &name).is_some() {
            return (Err(ApiError::already_exists(rt, &name)), Vec::new());
        }
        validate::initial_status(rt, &mut body);
        if dry_run {
            return (Ok(body.clone()), Vec::new());
        }
        let stored = st.insert_new(rt.plural, ns, body.clone());
        let follow = controllers::after_write(st, rt.plural, ns, &name);
        (Ok(stored), follow)
    })?;
    Ok(created)
}

fn update(
    shared: &Arc<Shared>,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    mut body: Value,
    status_only: bool,
) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request("Object 'Kind' is missing in 'null'"));
    }
    check_type(rt, &body)?;
    validate::decode(rt, &body).map_err(ApiError::bad_request)?;
    let body_name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if body_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({name})"
        )));
    }
    body["kind"] = json!(rt.kind);
    body["apiVersion"] = json!(rt.api_version());
    controllers::run(shared, |st| {
        let Some(current) = st.get(rt.plural, ns, name).cloned() else {
            return (Err(ApiError::not_found(rt, name)), Vec::new());
        };
        match body["metadata"]["resourceVersion"].as_str() {
            Some(rv)
                if !rv.is_empty()
                    && Some(rv) != current["metadata"]["resourceVersion"].as_str() =>
            {
                return (
                    Err(ApiError::conflict(
                        rt,
                        name,
                        "the object has been modified; please apply your changes to the latest version and try again",
                    )),
                    Vec::new(),
                );
            }
            _ => {}
        }
        let next = if status_only {
            let mut n = current.clone();
            n["status"] = body["status"].clone();
            n
        } else {
            let mut causes = validate::object(rt, &body);
            let mut n = body.clone();
            validate::apply_defaults(rt, &mut n);
            causes.extend(validate::update(rt, &current, &n));
            if !causes.is_empty() {
                return (Err(ApiError::invalid(rt, name, causes)), Vec::new());
            }
            // Status and server-owned metadata stay as stored.
            if current.get("status").is_some() {
                n["status"] = current["status"].clone();
            }
            let m = meta_mut(&mut n);
            for k in [
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "ownerReferences",
            ] {
                match current["metadata"].get(k) {
                    Some(v) if k != "ownerReferences" || !m.contains_key(k) => {
                        m.insert(k.into(), v.clone());
                    }
                    _ => {}
                }
            }
            if current.get("spec") != n.get("spec") {
                let g = current["metadata"]["generation"].as_i64().unwrap_or(0);
                if g > 0 {
                    meta_mut(&mut n).insert("generation".into(), json!(g + 1));
                }
            }
            n
        };
        let stored = st.replace(rt.plural, ns, next);
        let follow = controllers::after_write(st, rt.plural, ns, name);
        (Ok(stored), follow)
    })
}

#[allow(clippy::too_many_arguments)]
fn patch(
    shared: &Arc<Shared>,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    body: Value,
    content_type: &str,
    qm: &HashMap<String, String>,
    status_only: bool,
) -> Result<(u16, Value), ApiError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    let current = shared.lock().get(rt.plural, ns, name).cloned();
    let merged = match media {
        "application/merge-patch+json" => {
            let cur = current.ok_or_else(|| ApiError::not_found(rt, name))?;
            super::patch::merge_patch(cur, &body)
        }
        "application/strategic-merge-patch+json" => {
            let cur = current.ok_or_else(|| ApiError::not_found(rt, name))?;
            super::patch::strategic_merge(cur, &body)
        }
        "application/json-patch+json" => {
            let cur = current.ok_or_else(|| ApiError::not_found(rt, name))?;
            super::patch::json_patch(cur, &body).map_err(|e| {
                ApiError::new(422, "Invalid", e)
            })?
        }
        "application/apply-patch+yaml" | "application/apply-patch+json" => {
            if qm.get("fieldManager").is_none_or(|f| f.is_empty()) {
                return Err(ApiError::new(
                    422,
                    "Invalid",
                    "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                ));
            }
            if body.is_null() {
                return Err(ApiError::bad_request(
                    "error decoding YAML: the simulator reads apply patches as JSON only",
                ));
            }
            match current {
                None if !status_only => {
                    let ns_for = if rt.namespaced { ns } else { "" };
                    let obj = create(shared, rt, ns_for, body, qm)?;
                    return Ok((201, obj));
                }
                None => return Err(ApiError::not_found(rt, name)),
                Some(cur) => super::patch::strategic_merge(cur, &body),
            }
        }
        _ => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json",
            ))
        }
    };
    // A resourceVersion inside the patch is a precondition; otherwise the
    // patch applies to whatever is stored.
    let mut merged = merged;
    if body["metadata"]["resourceVersion"].is_null() {
        let latest = shared.lock().get(rt.plural, ns, name).cloned();
        if let Some(l) = latest {
            meta_mut(&mut merged).insert(
                "resourceVersion".into(),
                l["metadata"]["resourceVersion"].clone(),
            );
        }
    }
    let obj = update(shared, rt, ns, name, merged, status_only)?;
    Ok((200, obj))
}

/// The propagation policy of a delete, from the query or the body.
fn propagation(body: &Value, qm: &HashMap<String, String>) -> String {
    qm.get("propagationPolicy")
        .cloned()
        .or_else(|| body["propagationPolicy"].as_str().map(String::from))
        .or_else(|| match body["orphanDependents"].as_bool() {
            Some(true) => Some("Orphan".into()),
            _ => None,
        })
        .unwrap_or_else(|| "Background".into())
}

fn delete(
    shared: &Arc<Shared>,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    body: &Value,
    qm: &HashMap<String, String>,
) -> Result<(u16, Value), ApiError> {
    let policy = propagation(body, qm);
    if !matches!(policy.as_str(), "Background" | "Foreground" | "Orphan") {
        return Err(ApiError::new(
            422,
            "Invalid",
            format!("DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{policy}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""),
        ));
    }
    let grace = qm
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse::<i64>().ok())
        .or_else(|| body["gracePeriodSeconds"].as_i64());
    let dry_run = qm.contains_key("dryRun") || body["dryRun"].is_array();
    controllers::run(shared, |st| {
        let Some(current) = st.get(rt.plural, ns, name).cloned() else {
            return (Err(ApiError::not_found(rt, name)), Vec::new());
        };
        let pre = &body["preconditions"];
        if let Some(uid) = pre["uid"].as_str() {
            if Some(uid) != current["metadata"]["uid"].as_str() {
                return (
                    Err(ApiError::conflict(
                        rt,
                        name,
                        &format!(
                            "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                            current["metadata"]["uid"].as_str().unwrap_or_default()
                        ),
                    )),
                    Vec::new(),
                );
            }
        }
        if let Some(rv) = pre["resourceVersion"].as_str() {
            if Some(rv) != current["metadata"]["resourceVersion"].as_str() {
                return (
                    Err(ApiError::conflict(
                        rt,
                        name,
                        &format!(
                            "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                            current["metadata"]["resourceVersion"].as_str().unwrap_or_default()
                        ),
                    )),
                    Vec::new(),
                );
            }
        }
        let mut answer = current.clone();
        let m = meta_mut(&mut answer);
        m.insert("deletionTimestamp".into(), json!(store::now_rfc3339()));
        if rt.plural == "pods" {
            let g = grace.unwrap_or_else(|| {
                current["spec"]["terminationGracePeriodSeconds"]
                    .as_i64()
                    .unwrap_or(30)
            });
            m.insert("deletionGracePeriodSeconds".into(), json!(g));
        } else {
            m.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        if policy == "Foreground" {
            m.insert("finalizers".into(), json!(["foregroundDeletion"]));
        }
        if dry_run {
            return (Ok((200, answer)), Vec::new());
        }
        let uid = current["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let mut follow = Vec::new();
        let answer = match policy.as_str() {
            "Foreground" => {
                // The owner shows its deletion until its dependents are gone.
                let shown = st.replace(rt.plural, ns, answer);
                controllers::delete_dependents(st, &uid);
                st.remove(rt.plural, ns, name);
                shown
            }
            "Orphan" => {
                controllers::orphan_dependents(st, &uid);
                let shown = st.replace(rt.plural, ns, answer);
                st.remove(rt.plural, ns, name);
                shown
            }
            _ => {
                let shown = if rt.returns_deleted_object {
                    st.replace(rt.plural, ns, answer)
                } else {
                    answer
                };
                st.remove(rt.plural, ns, name);
                follow.push(controllers::Follow::CollectGarbage(uid.clone()));
                shown
            }
        };
        if rt.plural == "namespaces" {
            let keys: Vec<_> = st
                .objects
                .keys()
                .filter(|k| k.namespace == name)
                .cloned()
                .collect();
            for k in keys {
                st.remove(k.plural, &k.namespace, &k.name);
            }
        }
        follow.extend(controllers::after_delete(st, &current));
        let response = if rt.returns_deleted_object || policy != "Background" {
            answer
        } else {
            let mut d = details(rt, name);
            d["uid"] = json!(uid);
            json!({
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Success",
                "details": d,
            })
        };
        (Ok((200, response)), follow)
    })
}

fn delete_collection(
    shared: &Arc<Shared>,
    rt: &'static ResourceType,
    ns: &str,
    body: Value,
    qm: &HashMap<String, String>,
) -> Result<Response<Body>, ApiError> {
    let (labels, fields) = selectors(rt, qm)?;
    let names: Vec<String> = shared
        .lock()
        .list(rt.plural, Some(ns))
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
        .collect();
    let mut items = Vec::new();
    for n in names {
        let deleted = shared.lock().get(rt.plural, ns, &n).cloned();
        if delete(shared, rt, ns, &n, &body, qm).is_ok() {
            if let Some(d) = deleted {
                items.push(list_item(d));
            }
        }
    }
    let rv = shared.lock().rv.to_string();
    Ok(json_response(
        200,
        &json!({
            "kind": format!("{}List", rt.kind),
            "apiVersion": rt.api_version(),
            "metadata": {"resourceVersion": rv},
            "items": items,
        }),
    ))
}

fn scale(
    shared: &Arc<Shared>,
    rt: &'static ResourceType,
    ns: &str,
    name: &str,
    method: &str,
    body: Value,
) -> Result<Response<Body>, ApiError> {
    let current = shared
        .lock()
        .get(rt.plural, ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(rt, name))?;
    let obj = match method {
        "GET" => current,
        "PUT" | "PATCH" => {
            let replicas = body["spec"]["replicas"].as_i64().ok_or_else(|| {
                ApiError::new(
                    422,
                    "Invalid",
                    format!(
                        "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Required value"
                    ),
                )
            })?;
            let mut next = current;
            next["spec"]["replicas"] = json!(replicas);
            update(shared, rt, ns, name, next, false)?
        }
        _ => {
            return Err(ApiError::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ))
        }
    };
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    Ok(json_response(
        200,
        &json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": name,
                "namespace": ns,
                "uid": obj["metadata"]["uid"],
                "resourceVersion": obj["metadata"]["resourceVersion"],
                "creationTimestamp": obj["metadata"]["creationTimestamp"],
            },
            "spec": {"replicas": obj["spec"]["replicas"]},
            "status": {"replicas": obj["status"]["replicas"].as_i64().unwrap_or(0), "selector": selector},
        }),
    ))
}
