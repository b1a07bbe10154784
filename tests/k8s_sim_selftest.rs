//! Tests of the Kubernetes API simulator itself (`tests/k8s_sim`): plain
//! HTTP and WebSocket requests, and the real `kube` client, get what a real
//! API server would answer — status codes, `kind: Status` bodies,
//! selectors, watch, controllers, and exec bridged to the test engine's
//! BuildKit.

mod support;

#[path = "k8s_sim/mod.rs"]
mod k8s_sim;

use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use k8s_sim::{Auth, K8sSim, Readiness, SimOptions};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

const TOKEN: &str = "test-token";
const NS: &str = "buildkit";

/// One HTTP/1.1 request on a fresh connection; the status, headers and
/// body (JSON, or a string when not JSON).
async fn send(
    sim: &K8sSim,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, hyper::HeaderMap, Value) {
    let addr = sim.url().trim_start_matches("http://").to_string();
    let tcp = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.as_str());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    if !bytes.is_empty() && !headers.iter().any(|(k, _)| *k == "content-type") {
        req = req.header("content-type", "application/json");
    }
    let resp = sender
        .send_request(req.body(Full::new(Bytes::from(bytes))).expect("request"))
        .await
        .expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, headers, value)
}

async fn api(sim: &K8sSim, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    let (s, _, v) = send(sim, method, path, body, &[("authorization", &auth)]).await;
    (s, v)
}

async fn plain_sim() -> K8sSim {
    K8sSim::start(SimOptions::new()).await
}

/// Polls `f` every 20 ms until it yields, for at most `secs`.
async fn wait_for<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn deployment(name: &str, replicas: i64) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "buildkitd", "image": "moby/buildkit:buildx-stable-1"}]},
            },
        },
    })
}

fn configmap(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"buildkitd.toml": "debug = true\n"},
    })
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["metadata"]["name"].as_str().expect("name").to_string())
        .collect()
}

#[tokio::test]
async fn requests_without_the_token_get_401_unauthorized_status() {
    let sim = plain_sim().await;
    let path = format!("/api/v1/namespaces/{NS}/pods");
    let (s, _, body) = send(&sim, "GET", &path, None, &[]).await;
    assert_eq!(s, 401);
    let expected = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
    });
    assert_eq!(body, expected);
    let (s, _, _) = send(
        &sim,
        "GET",
        &path,
        None,
        &[("authorization", "Bearer wrong")],
    )
    .await;
    assert_eq!(s, 401);
    let (s, body) = api(&sim, "GET", &path, None).await;
    assert_eq!(s, 200);
    assert_eq!(body["kind"], "PodList");
    assert_eq!(body["items"], json!([]));
    // every request is recorded, refused ones too
    let recorded = sim.requests();
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].method, "GET");
    assert_eq!(recorded[0].path, path);
}

#[tokio::test]
async fn version_and_discovery_describe_the_served_resources() {
    let sim = plain_sim().await;
    let (s, v) = api(&sim, "GET", "/version", None).await;
    assert_eq!(
        (s, v["major"].as_str(), v["minor"].as_str()),
        (200, Some("1"), Some("33"))
    );
    let (_, v) = api(&sim, "GET", "/api", None).await;
    assert_eq!(v["kind"], "APIVersions");
    assert_eq!(v["versions"], json!(["v1"]));
    let (_, v) = api(&sim, "GET", "/apis", None).await;
    assert_eq!(v["groups"][0]["name"], "apps");
    assert_eq!(
        v["groups"][0]["preferredVersion"]["groupVersion"],
        "apps/v1"
    );
    let (_, v) = api(&sim, "GET", "/api/v1", None).await;
    let core: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for r in [
        "pods",
        "pods/exec",
        "configmaps",
        "events",
        "persistentvolumeclaims",
        "namespaces",
    ] {
        assert!(core.contains(&r), "{r} missing from {core:?}");
    }
    let (_, v) = api(&sim, "GET", "/apis/apps/v1", None).await;
    assert_eq!(v["groupVersion"], "apps/v1");
    let apps: Vec<&str> = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert!(apps.contains(&"deployments") && apps.contains(&"statefulsets"));
    let (s, v) = api(&sim, "GET", "/apis/batch/v1", None).await;
    assert_eq!(s, 404);
    assert_eq!(
        v["message"],
        "the server could not find the requested resource"
    );
}

#[tokio::test]
async fn missing_objects_are_404_not_found_with_details() {
    let sim = plain_sim().await;
    let (s, v) = api(
        &sim,
        "GET",
        &format!("/apis/apps/v1/namespaces/{NS}/deployments/nope"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(
        v,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "deployments.apps \"nope\" not found", "reason": "NotFound",
            "details": {"name": "nope", "group": "apps", "kind": "deployments"}, "code": 404,
        })
    );
    let (s, v) = api(
        &sim,
        "DELETE",
        &format!("/api/v1/namespaces/{NS}/configmaps/gone"),
        None,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "configmaps \"gone\" not found");
    assert_eq!(v["details"], json!({"name": "gone", "kind": "configmaps"}));
    // a namespace that does not exist
    let (s, v) = api(
        &sim,
        "POST",
        "/api/v1/namespaces/elsewhere/configmaps",
        Some(configmap("c", json!({}))),
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "namespaces \"elsewhere\" not found");
}

#[tokio::test]
async fn create_fills_server_fields_and_a_second_create_is_409_already_exists() {
    let sim = plain_sim().await;
    let path = format!("/api/v1/namespaces/{NS}/configmaps");
    let (s, created) = api(
        &sim,
        "POST",
        &path,
        Some(configmap("cfg", json!({"a": "b"}))),
    )
    .await;
    assert_eq!(s, 201);
    let uid = created["metadata"]["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 36);
    assert_eq!(&uid[14..15], "4", "version 4 UUID: {uid}");
    assert_eq!(created["metadata"]["namespace"], NS);
    let rv: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv > 0);
    assert!(created["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let (s, v) = api(&sim, "POST", &path, Some(configmap("cfg", json!({})))).await;
    assert_eq!(s, 409);
    assert_eq!(v["reason"], "AlreadyExists");
    assert_eq!(v["message"], "configmaps \"cfg\" already exists");
    assert_eq!(v["details"], json!({"name": "cfg", "kind": "configmaps"}));
    assert_eq!(v["code"], 409);
    let stored = sim.objects("configmaps");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["data"]["buildkitd.toml"], "debug = true\n");
    assert_eq!(stored[0]["kind"], "ConfigMap");
}

#[tokio::test]
async fn invalid_objects_are_422_invalid_with_field_causes() {
    let sim = plain_sim().await;
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments");
    let (s, v) = api(&sim, "POST", &path, Some(deployment("Bad_Name", 1))).await;
    assert_eq!(s, 422);
    assert_eq!(v["reason"], "Invalid");
    let msg = v["message"].as_str().unwrap();
    assert!(
        msg.starts_with("Deployment.apps \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 subdomain"),
        "{msg}"
    );
    assert_eq!(v["details"]["kind"], "Deployment");
    assert_eq!(v["details"]["group"], "apps");
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.name");
    assert_eq!(v["details"]["causes"][0]["reason"], "FieldValueInvalid");

    let mut d = deployment("mismatch", 1);
    d["spec"]["selector"]["matchLabels"]["app"] = json!("other");
    let (s, v) = api(&sim, "POST", &path, Some(d)).await;
    assert_eq!(s, 422);
    assert_eq!(
        v["details"]["causes"][0]["field"],
        "spec.template.metadata.labels"
    );
    assert!(v["message"]
        .as_str()
        .unwrap()
        .ends_with("`selector` does not match template `labels`"));

    let mut d = deployment("noimage", 1);
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("");
    let (s, v) = api(&sim, "POST", &path, Some(d)).await;
    assert_eq!(s, 422);
    assert_eq!(
        v["message"],
        "Deployment.apps \"noimage\" is invalid: spec.template.spec.containers[0].image: Required value"
    );

    let mut d = deployment("badlabel", 1);
    d["metadata"]["labels"]["team"] = json!("not ok!");
    let (s, v) = api(&sim, "POST", &path, Some(d)).await;
    assert_eq!(s, 422);
    assert_eq!(v["details"]["causes"][0]["field"], "metadata.labels");

    // A quantity that does not parse fails in decoding: 400, not 422.
    let mut d = deployment("badcpu", 1);
    d["spec"]["template"]["spec"]["containers"][0]["resources"] =
        json!({"requests": {"cpu": "lots"}});
    let (s, v) = api(&sim, "POST", &path, Some(d)).await;
    assert_eq!(s, 400);
    assert_eq!(v["reason"], "BadRequest");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("quantities must match the regular expression"));
    assert!(sim.objects("deployments").is_empty());
}

#[tokio::test]
async fn deployment_pods_are_named_labelled_and_owned_as_the_controllers_do() {
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::After(Duration::from_millis(100)));
    let (s, dep) = api(
        &sim,
        "POST",
        &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
        Some(deployment("bk", 2)),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(dep["metadata"]["generation"], 1);
    assert_eq!(dep["status"], json!({}));
    let pods = wait_for("2 running pods", 10, || {
        let pods = sim.objects("pods");
        (pods.len() == 2 && pods.iter().all(|p| p["status"]["phase"] == "Running")).then_some(pods)
    })
    .await;
    let rs = sim.objects("replicasets");
    assert_eq!(rs.len(), 1);
    let rs_name = rs[0]["metadata"]["name"].as_str().unwrap();
    let hash = rs[0]["metadata"]["labels"]["pod-template-hash"]
        .as_str()
        .unwrap();
    assert_eq!(rs_name, format!("bk-{hash}"));
    assert_eq!(hash.len(), 10);
    assert_eq!(
        rs[0]["metadata"]["ownerReferences"][0]["kind"],
        "Deployment"
    );
    assert_eq!(
        rs[0]["metadata"]["ownerReferences"][0]["uid"],
        dep["metadata"]["uid"]
    );
    let alphabet = "bcdfghjklmnpqrstvwxz2456789";
    for p in &pods {
        let name = p["metadata"]["name"].as_str().unwrap();
        let suffix = name
            .strip_prefix(&format!("{rs_name}-"))
            .expect("rs prefix");
        assert_eq!(suffix.len(), 5, "{name}");
        assert!(suffix.chars().all(|c| alphabet.contains(c)), "{name}");
        assert_eq!(
            p["metadata"]["labels"],
            json!({"app": "bk", "pod-template-hash": hash})
        );
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(
            (owner["kind"].as_str(), owner["name"].as_str()),
            (Some("ReplicaSet"), Some(rs_name))
        );
        assert_eq!(owner["controller"], true);
        assert_eq!(p["spec"]["nodeName"], "sim-node");
        let ready = p["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "True");
        assert_eq!(p["status"]["containerStatuses"][0]["ready"], true);
        assert!(!p["status"]["containerStatuses"][0]["state"]["running"].is_null());
    }
    let dep = wait_for("deployment ready", 10, || {
        let d = sim.objects("deployments").pop()?;
        (d["status"]["readyReplicas"] == 2).then_some(d)
    })
    .await;
    assert_eq!(dep["status"]["availableReplicas"], 2);
    assert_eq!(dep["status"]["replicas"], 2);
    assert_eq!(dep["status"]["updatedReplicas"], 2);
    assert_eq!(dep["status"]["observedGeneration"], 1);
    assert!(dep["status"].get("unavailableReplicas").is_none());
    assert_eq!(dep["status"]["conditions"][0]["type"], "Available");
    assert_eq!(dep["status"]["conditions"][0]["status"], "True");
    // the pods' events, as `kubectl describe pod` reads them
    let pod = pods[0]["metadata"]["name"].as_str().unwrap();
    let (s, events) = api(
        &sim,
        "GET",
        &format!("/api/v1/namespaces/{NS}/events?fieldSelector=involvedObject.name%3D{pod}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let reasons: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["Scheduled", "Pulling", "Pulled", "Created", "Started"]
    );
}

#[tokio::test]
async fn never_ready_pods_say_why_in_status_and_warning_events() {
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::Never {
        reason: "ImagePullBackOff".into(),
        message: "Back-off pulling image \"moby/buildkit:nope\"".into(),
    });
    api(
        &sim,
        "POST",
        &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
        Some(deployment("stuck", 1)),
    )
    .await;
    let pod = wait_for("a waiting pod", 10, || {
        sim.objects("pods")
            .into_iter()
            .find(|p| !p["status"]["containerStatuses"].is_null())
    })
    .await;
    assert_eq!(pod["status"]["phase"], "Pending");
    let waiting = &pod["status"]["containerStatuses"][0]["state"]["waiting"];
    assert_eq!(waiting["reason"], "ImagePullBackOff");
    assert_eq!(
        waiting["message"],
        "Back-off pulling image \"moby/buildkit:nope\""
    );
    let name = pod["metadata"]["name"].as_str().unwrap();
    let (_, events) = api(
        &sim,
        "GET",
        &format!("/api/v1/namespaces/{NS}/events?fieldSelector=involvedObject.name%3D{name},type%3DWarning"),
        None,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1);
    assert_eq!(events["items"][0]["reason"], "Failed");
    assert_eq!(events["items"][0]["message"], "Error: ImagePullBackOff");
    assert_eq!(events["items"][0]["involvedObject"]["kind"], "Pod");
    assert_eq!(
        events["items"][0]["involvedObject"]["fieldPath"],
        "spec.containers{buildkitd}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let dep = sim.objects("deployments").pop().unwrap();
    assert!(
        dep["status"].get("readyReplicas").is_none(),
        "{}",
        dep["status"]
    );
    assert_eq!(dep["status"]["unavailableReplicas"], 1);
    assert_eq!(dep["status"]["conditions"][0]["status"], "False");
    assert_eq!(
        dep["status"]["conditions"][0]["reason"],
        "MinimumReplicasUnavailable"
    );
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists_as_the_api_server_does() {
    let sim = plain_sim().await;
    let path = format!("/api/v1/namespaces/{NS}/configmaps");
    for (name, labels) in [
        ("a", json!({"app": "a", "tier": "x"})),
        ("b", json!({"app": "b"})),
        ("c", json!({"app": "c"})),
        ("d", json!({})),
    ] {
        assert_eq!(
            api(&sim, "POST", &path, Some(configmap(name, labels)))
                .await
                .0,
            201
        );
    }
    let list = |sel: &str| {
        let sim = &sim;
        let path = format!("{path}?{sel}");
        async move {
            let (s, v) = api(sim, "GET", &path, None).await;
            assert_eq!(s, 200, "{path}: {v}");
            names(&v)
        }
    };
    assert_eq!(list("labelSelector=app%3Da").await, ["a"]);
    assert_eq!(list("labelSelector=app!%3Da").await, ["b", "c", "d"]);
    assert_eq!(list("labelSelector=app+in+(a,b)").await, ["a", "b"]);
    assert_eq!(list("labelSelector=app%20notin%20(a,b)").await, ["c", "d"]);
    assert_eq!(list("labelSelector=tier").await, ["a"]);
    assert_eq!(list("labelSelector=!app").await, ["d"]);
    assert_eq!(list("labelSelector=app,app!%3Dc").await, ["a", "b"]);
    assert_eq!(list("fieldSelector=metadata.name%3Dc").await, ["c"]);
    assert_eq!(
        list("fieldSelector=metadata.name!%3Dc").await,
        ["a", "b", "d"]
    );
    // pagination
    let (_, page) = api(&sim, "GET", &format!("{path}?limit=3"), None).await;
    assert_eq!(names(&page), ["a", "b", "c"]);
    assert_eq!(page["metadata"]["remainingItemCount"], 1);
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    let (_, page) = api(
        &sim,
        "GET",
        &format!("{path}?limit=3&continue={token}"),
        None,
    )
    .await;
    assert_eq!(names(&page), ["d"]);
    assert!(page["metadata"].get("continue").is_none());
    // list items carry no kind/apiVersion; the list does
    assert_eq!(page["kind"], "ConfigMapList");
    assert!(page["items"][0].get("kind").is_none());

    let (s, v) = api(
        &sim,
        "GET",
        &format!("{path}?fieldSelector=data.x%3Dy"),
        None,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["message"], "field label not supported: data.x");
    let (s, v) = api(
        &sim,
        "GET",
        &format!("{path}?labelSelector=a%3Db%3Fc"),
        None,
    )
    .await;
    assert_eq!(s, 400, "{v}");
    assert_eq!(v["reason"], "BadRequest");
}

#[tokio::test]
async fn watch_streams_changes_after_a_resource_version_honouring_the_selector() {
    let sim = plain_sim().await;
    let path = format!("/api/v1/namespaces/{NS}/configmaps");
    api(
        &sim,
        "POST",
        &path,
        Some(configmap("before", json!({"w": "1"}))),
    )
    .await;
    let (_, list) = api(&sim, "GET", &path, None).await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let addr = sim.url().trim_start_matches("http://").to_string();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get(format!(
        "{path}?watch=true&resourceVersion={rv}&labelSelector=w%3D1&timeoutSeconds=10"
    ))
    .header("host", addr.as_str())
    .header("authorization", format!("Bearer {TOKEN}"))
    .body(Full::new(Bytes::new()))
    .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = resp.into_body();

    api(
        &sim,
        "POST",
        &path,
        Some(configmap("other", json!({"w": "2"}))),
    )
    .await;
    api(
        &sim,
        "POST",
        &path,
        Some(configmap("watched", json!({"w": "1"}))),
    )
    .await;
    let (s, _, _) = send(
        &sim,
        "PATCH",
        &format!("{path}/watched"),
        Some(json!({"data": {"k": "v"}})),
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/merge-patch+json"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    // leaving the selection is a DELETED for this watch
    let (s, _, _) = send(
        &sim,
        "PATCH",
        &format!("{path}/watched"),
        Some(json!({"metadata": {"labels": {"w": "3"}}})),
        &[
            ("authorization", &format!("Bearer {TOKEN}")),
            ("content-type", "application/merge-patch+json"),
        ],
    )
    .await;
    assert_eq!(s, 200);
    api(&sim, "DELETE", &format!("{path}/before"), None).await;

    let mut buf = String::new();
    let mut events: Vec<Value> = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while events.len() < 4 {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("watch events in time");
        let Some(Ok(frame)) = frame else { break };
        if let Ok(data) = frame.into_data() {
            buf.push_str(std::str::from_utf8(&data).unwrap());
        }
        while let Some(i) = buf.find('\n') {
            events.push(serde_json::from_str(&buf[..i]).unwrap());
            buf.drain(..=i);
        }
    }
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("ADDED".to_string(), "watched".to_string()),
            ("MODIFIED".into(), "watched".into()),
            ("DELETED".into(), "watched".into()),
            ("DELETED".into(), "before".into()),
        ]
    );
    assert_eq!(events[1]["object"]["data"]["k"], "v");
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");
    let rvs: Vec<u64> = events
        .iter()
        .map(|e| {
            e["object"]["metadata"]["resourceVersion"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(rvs.windows(2).all(|w| w[0] < w[1]), "{rvs:?}");
}

#[tokio::test]
async fn updates_with_a_stale_resource_version_are_409_conflict() {
    let sim = plain_sim().await;
    let path = format!("/api/v1/namespaces/{NS}/configmaps");
    let (_, created) = api(&sim, "POST", &path, Some(configmap("cm", json!({})))).await;
    let mut first = created.clone();
    first["data"]["x"] = json!("1");
    let (s, updated) = api(&sim, "PUT", &format!("{path}/cm"), Some(first)).await;
    assert_eq!(s, 200);
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
    let mut stale = created.clone();
    stale["data"]["x"] = json!("2");
    let (s, v) = api(&sim, "PUT", &format!("{path}/cm"), Some(stale)).await;
    assert_eq!(s, 409);
    assert_eq!(v["reason"], "Conflict");
    assert_eq!(
        v["message"],
        "Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; please apply your changes to the latest version and try again"
    );
    let (s, v) = api(&sim, "PUT", &format!("{path}/other"), Some(created)).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        "the name of the object (cm) does not match the name on the URL (other)"
    );
}

#[tokio::test]
async fn deleting_a_deployment_collects_its_replicasets_and_pods() {
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::After(Duration::from_millis(10)));
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments");
    api(&sim, "POST", &path, Some(deployment("gone", 2))).await;
    wait_for("2 pods", 10, || {
        (sim.objects("pods").len() == 2).then_some(())
    })
    .await;
    let uid = sim.objects("deployments")[0]["metadata"]["uid"].clone();
    let (s, v) = api(&sim, "DELETE", &format!("{path}/gone"), None).await;
    assert_eq!(s, 200);
    assert_eq!(
        v,
        json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
            "details": {"name": "gone", "group": "apps", "kind": "deployments", "uid": uid},
        })
    );
    wait_for("garbage collection", 10, || {
        (sim.objects("pods").is_empty() && sim.objects("replicasets").is_empty()).then_some(())
    })
    .await;
    assert!(sim.objects("deployments").is_empty());
}

#[tokio::test]
async fn statefulset_creates_ordered_pods_and_claims_that_outlive_it() {
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::After(Duration::from_millis(50)));
    let sts = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "bk"},
        "spec": {
            "replicas": 2,
            "serviceName": "bk",
            "selector": {"matchLabels": {"app": "bk"}},
            "template": {
                "metadata": {"labels": {"app": "bk"}},
                "spec": {"containers": [{"name": "buildkitd", "image": "moby/buildkit:buildx-stable-1"}]},
            },
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
            }],
        },
    });
    let (s, v) = api(
        &sim,
        "POST",
        &format!("/apis/apps/v1/namespaces/{NS}/statefulsets"),
        Some(sts),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let pods = wait_for("2 ready pods", 10, || {
        let pods = sim.objects("pods");
        (pods.len() == 2 && pods.iter().all(|p| p["status"]["phase"] == "Running")).then_some(pods)
    })
    .await;
    let names: Vec<&str> = pods
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["bk-0", "bk-1"]);
    // OrderedReady: bk-1 was created only after bk-0 was ready
    let created_1 = &pods[1]["metadata"]["creationTimestamp"];
    assert!(created_1.as_str() >= pods[0]["metadata"]["creationTimestamp"].as_str());
    assert_eq!(
        pods[1]["spec"]["volumes"][0],
        json!({"name": "data", "persistentVolumeClaim": {"claimName": "data-bk-1"}})
    );
    assert_eq!(
        pods[0]["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
        "bk-0"
    );
    let pvcs: Vec<String> = sim
        .objects("persistentvolumeclaims")
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pvcs, ["data-bk-0", "data-bk-1"]);
    wait_for("sts ready", 10, || {
        (sim.objects("statefulsets")[0]["status"]["readyReplicas"] == 2).then_some(())
    })
    .await;
    let (s, _) = api(
        &sim,
        "DELETE",
        &format!("/apis/apps/v1/namespaces/{NS}/statefulsets/bk"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    wait_for("pods gone", 10, || {
        sim.objects("pods").is_empty().then_some(())
    })
    .await;
    // the default retention policy keeps the claims
    assert_eq!(sim.objects("persistentvolumeclaims").len(), 2);
}

/// A WebSocket exec request; the HTTP status and negotiated protocol, or
/// the refusal's status and body.
fn exec_path(pod: &str, command: &[&str]) -> String {
    let mut p = format!("/api/v1/namespaces/{NS}/pods/{pod}/exec?container=buildkitd");
    for c in command {
        p.push_str(&format!("&command={c}"));
    }
    p.push_str("&stdin=true&stdout=true&stderr=true");
    p
}

async fn ws_connect(
    sim: &K8sSim,
    path: &str,
    protocols: &str,
) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let addr = sim.url().trim_start_matches("http://").to_string();
    let mut req = format!("ws://{addr}{path}").into_client_request().unwrap();
    req.headers_mut()
        .insert("sec-websocket-protocol", protocols.parse().unwrap());
    req.headers_mut()
        .insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (ws, resp) = tokio_tungstenite::client_async(req, tcp)
        .await
        .expect("websocket upgrade");
    assert_eq!(resp.status(), 101);
    ws
}

async fn running_pod(sim: &K8sSim, name: &str) -> String {
    sim.set_readiness(Readiness::After(Duration::from_millis(10)));
    api(
        sim,
        "POST",
        &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
        Some(deployment(name, 1)),
    )
    .await;
    wait_for("a running pod", 10, || {
        sim.objects("pods")
            .into_iter()
            .find(|p| p["status"]["phase"] == "Running")
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    })
    .await
}

fn upgrade_headers(protocols: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-protocol", protocols),
    ]
}

#[tokio::test]
async fn exec_refusals_are_status_bodies_before_any_upgrade() {
    let sim = plain_sim().await;
    let auth = format!("Bearer {TOKEN}");
    let mut headers = upgrade_headers("v5.channel.k8s.io");
    headers.push(("authorization", &auth));
    let (s, _, v) = send(
        &sim,
        "GET",
        &exec_path("nope", &["buildctl", "dial-stdio"]),
        None,
        &headers,
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(v["message"], "pods \"nope\" not found");

    sim.set_readiness(Readiness::Never {
        reason: "ErrImagePull".into(),
        message: "no".into(),
    });
    api(
        &sim,
        "POST",
        &format!("/apis/apps/v1/namespaces/{NS}/deployments"),
        Some(deployment("pending", 1)),
    )
    .await;
    let pod = wait_for("a pod", 10, || {
        sim.objects("pods")
            .pop()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    })
    .await;
    let (s, _, v) = send(
        &sim,
        "GET",
        &exec_path(&pod, &["buildctl", "dial-stdio"]),
        None,
        &headers,
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        "unable to upgrade connection: container not found (\"buildkitd\")"
    );

    let pod = running_pod(&sim, "ready").await;
    let (s, _, v) = send(
        &sim,
        "GET",
        &exec_path(&pod, &["buildctl", "dial-stdio"]),
        None,
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(s, 400, "a plain GET is not an upgrade");
    assert_eq!(v["message"], "Upgrade request required");
    let path = exec_path(&pod, &["buildctl", "dial-stdio"])
        .replace("container=buildkitd", "container=other");
    let (s, _, v) = send(&sim, "GET", &path, None, &headers).await;
    assert_eq!(s, 400);
    assert_eq!(
        v["message"],
        format!("container other is not valid for pod {pod}")
    );
    let mut b64 = upgrade_headers("base64.channel.k8s.io");
    b64.push(("authorization", &auth));
    let (s, _, _) = send(
        &sim,
        "GET",
        &exec_path(&pod, &["buildctl", "dial-stdio"]),
        None,
        &b64,
    )
    .await;
    assert_eq!(s, 403, "an unknown subprotocol fails the handshake");
}

#[tokio::test]
async fn injected_exec_failures_answer_their_status_then_exec_works() {
    let sim = plain_sim().await;
    let pod = running_pod(&sim, "flaky").await;
    sim.fail_next_execs(2, 500);
    let auth = format!("Bearer {TOKEN}");
    let mut headers = upgrade_headers("v5.channel.k8s.io, v4.channel.k8s.io");
    headers.push(("authorization", &auth));
    // an unsimulated command: upgrade, then a failure status
    let path = exec_path(&pod, &["buildctl", "dial-stdio"]);
    for _ in 0..2 {
        let (s, _, v) = send(&sim, "GET", &path, None, &headers).await;
        assert_eq!(s, 500);
        assert_eq!(v["kind"], "Status");
        assert_eq!(v["reason"], "InternalError");
        assert_eq!(v["code"], 500);
    }
    let mut ws = ws_connect(&sim, &exec_path(&pod, &["ls", "/"]), "v4.channel.k8s.io").await;
    let mut frames = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Binary(b) = m {
            frames.push(b.to_vec());
        }
    }
    assert_eq!(
        frames[0],
        vec![1u8],
        "the empty stdout frame that says the stream is up"
    );
    assert_eq!(frames[1][0], 2, "stderr");
    let status: Value = serde_json::from_slice(&frames[2][1..]).unwrap();
    assert_eq!(frames[2][0], 3);
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(
        status["details"]["causes"][0],
        json!({"reason": "ExitCode", "message": "126"})
    );
    let execs = sim.execs();
    assert_eq!(execs.len(), 3);
    assert_eq!(execs[0].command, ["buildctl", "dial-stdio"]);
    assert_eq!(execs[0].container, "buildkitd");
    assert_eq!(execs[0].pod, pod);
    assert_eq!(execs[2].command, ["ls", "/"]);
}

/// The client side of an exec as a byte stream: stdin out, stdout in.
fn exec_stream(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) -> (
    tokio::io::DuplexStream,
    tokio::sync::oneshot::Receiver<Vec<Value>>,
) {
    let (ours, theirs) = tokio::io::duplex(256 * 1024);
    let (status_tx, status_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sink, mut stream) = ws.split();
        let (mut rd, mut wr) = tokio::io::split(theirs);
        let up = async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match rd.read(&mut buf).await {
                    Ok(0) | Err(_) => {
                        let _ = sink.send(Message::binary(vec![255u8, 0])).await;
                        return sink;
                    }
                    Ok(n) => {
                        let mut f = vec![0u8];
                        f.extend_from_slice(&buf[..n]);
                        if sink.send(Message::binary(f)).await.is_err() {
                            return sink;
                        }
                    }
                }
            }
        };
        let down = async move {
            let mut statuses = Vec::new();
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Binary(b) = m {
                    match b.first() {
                        // Once the client side has hung up, later stdout
                        // (HTTP/2 GOAWAY and the like) has nowhere to go;
                        // keep reading for the status.
                        Some(1) if b.len() > 1 => {
                            let _ = wr.write_all(&b[1..]).await;
                        }
                        Some(3) => {
                            statuses.push(serde_json::from_slice(&b[1..]).unwrap_or(Value::Null))
                        }
                        _ => {}
                    }
                }
            }
            let _ = wr.shutdown().await;
            statuses
        };
        let (_, statuses) = tokio::join!(up, down);
        let _ = status_tx.send(statuses);
    });
    (ours, status_rx)
}

#[tokio::test]
async fn exec_of_dial_stdio_reaches_the_engines_buildkit() {
    let Some(_engine) = support::docker_or_skip("exec_of_dial_stdio_reaches_the_engines_buildkit")
    else {
        return;
    };
    use bollard_buildkit_proto::moby::buildkit::v1::{
        control_client::ControlClient, ListWorkersRequest,
    };
    let sim = plain_sim().await;
    let pod = running_pod(&sim, "grpc").await;
    let ws = ws_connect(
        &sim,
        &exec_path(&pod, &["buildctl", "dial-stdio"]),
        "v5.channel.k8s.io, v4.channel.k8s.io",
    )
    .await;
    let (io, status) = exec_stream(ws);
    let once = std::sync::Arc::new(std::sync::Mutex::new(Some(io)));
    let channel = tonic::transport::Endpoint::from_static("http://buildkit.invalid")
        .connect_with_connector(tower::service_fn(move |_| {
            let io = once.lock().unwrap().take();
            async move {
                io.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("one exec, one connection"))
            }
        }))
        .await
        .expect("gRPC over the exec stream");
    let mut control = ControlClient::new(channel);
    let workers = control
        .list_workers(ListWorkersRequest::default())
        .await
        .expect("ListWorkers through the exec")
        .into_inner()
        .record;
    assert!(!workers.is_empty());
    let platforms: Vec<String> = workers[0]
        .platforms
        .iter()
        .map(|p| format!("{}/{}", p.os, p.architecture))
        .collect();
    assert!(
        platforms.contains(&"linux/amd64".to_string()),
        "{platforms:?}"
    );
    assert_eq!(sim.open_execs(), 1);
    drop(control);
    let statuses = tokio::time::timeout(Duration::from_secs(10), status)
        .await
        .expect("the exec ends after the client hangs up")
        .unwrap();
    assert_eq!(statuses, [json!({"metadata": {}, "status": "Success"})]);
}

#[tokio::test]
async fn v5_stdin_close_half_closes_buildkit_and_ends_with_success() {
    let Some(_engine) =
        support::docker_or_skip("v5_stdin_close_half_closes_buildkit_and_ends_with_success")
    else {
        return;
    };
    let sim = plain_sim().await;
    let pod = running_pod(&sim, "close").await;
    let mut ws = ws_connect(
        &sim,
        &exec_path(&pod, &["buildctl", "dial-stdio"]),
        "v5.channel.k8s.io",
    )
    .await;
    ws.send(Message::binary(vec![255u8, 0])).await.unwrap();
    let mut frames = Vec::new();
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Binary(b) = m {
                frames.push(b.to_vec());
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the exec ended");
    let mut expected_status = vec![3u8];
    expected_status.extend_from_slice(br#"{"metadata":{},"status":"Success"}"#);
    assert_eq!(frames.first(), Some(&vec![1u8]));
    assert_eq!(frames.last(), Some(&expected_status));
}

fn kube_client_for(sim: &K8sSim, dir: &std::path::Path) -> kube::Config {
    let path = dir.join("config");
    sim.write_kubeconfig(&path, "sim");
    let kubeconfig = kube::config::Kubeconfig::read_from(&path).expect("kubeconfig parses");
    futures::executor::block_on(kube::Config::from_custom_kubeconfig(
        kubeconfig,
        &kube::config::KubeConfigOptions::default(),
    ))
    .expect("kube config")
}

#[tokio::test]
async fn kube_client_reads_the_kubeconfig_with_a_token_over_tls() {
    use k8s_openapi::api::core::v1::ConfigMap;
    let sim = K8sSim::start(SimOptions {
        tls: true,
        ..SimOptions::new()
    })
    .await;
    assert!(sim.url().starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().unwrap();
    let config = kube_client_for(&sim, dir.path());
    assert_eq!(config.default_namespace, NS);
    let client = kube::Client::try_from(config).expect("client");
    let api: kube::Api<ConfigMap> = kube::Api::default_namespaced(client.clone());
    let cm: ConfigMap = serde_json::from_value(configmap("from-kube", json!({"k": "v"}))).unwrap();
    let created = api
        .create(&kube::api::PostParams::default(), &cm)
        .await
        .expect("create");
    assert_eq!(created.metadata.namespace.as_deref(), Some(NS));
    let listed = api
        .list(&kube::api::ListParams::default().labels("k=v"))
        .await
        .expect("list");
    assert_eq!(listed.items.len(), 1);
    match api.get("absent").await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 404);
            assert_eq!(s.reason, "NotFound");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    let recorded = sim.requests();
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(
        recorded[0].path,
        format!("/api/v1/namespaces/{NS}/configmaps")
    );
    assert_eq!(recorded[0].body["metadata"]["name"], "from-kube");
}

#[tokio::test]
async fn kube_client_authenticates_with_a_client_certificate() {
    use k8s_openapi::api::core::v1::Pod;
    let sim = K8sSim::start(SimOptions {
        tls: true,
        auth: Auth::ClientCert,
        ..SimOptions::new()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = kube_client_for(&sim, dir.path());
    let yaml = std::fs::read_to_string(dir.path().join("config")).unwrap();
    assert!(yaml.contains("client-certificate-data: ") && yaml.contains("client-key-data: "));
    assert!(!yaml.contains("token"));
    let client = kube::Client::try_from(config.clone()).expect("client");
    let pods: kube::Api<Pod> = kube::Api::default_namespaced(client);
    assert!(pods
        .list(&Default::default())
        .await
        .expect("list with a certificate")
        .items
        .is_empty());

    // the same server without the certificate: TLS works, the request is 401
    let mut anonymous = config;
    anonymous.auth_info.client_certificate_data = None;
    anonymous.auth_info.client_key_data = None;
    let client = kube::Client::try_from(anonymous).expect("client");
    let pods: kube::Api<Pod> = kube::Api::default_namespaced(client);
    match pods.list(&Default::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (401, "Unauthorized")),
        other => panic!("expected 401, got {other:?}"),
    }
}

#[tokio::test]
async fn kube_exec_of_dial_stdio_reaches_the_engines_buildkit() {
    let Some(_engine) =
        support::docker_or_skip("kube_exec_of_dial_stdio_reaches_the_engines_buildkit")
    else {
        return;
    };
    use bollard_buildkit_proto::moby::buildkit::v1::{
        control_client::ControlClient, ListWorkersRequest,
    };
    use k8s_openapi::api::core::v1::Pod;
    let sim = K8sSim::start(SimOptions {
        tls: true,
        ..SimOptions::new()
    })
    .await;
    sim.set_readiness(Readiness::After(Duration::from_millis(10)));
    let dir = tempfile::tempdir().unwrap();
    let client = kube::Client::try_from(kube_client_for(&sim, dir.path())).unwrap();
    let deployments: kube::Api<k8s_openapi::api::apps::v1::Deployment> =
        kube::Api::default_namespaced(client.clone());
    let d = serde_json::from_value(deployment("kube", 1)).unwrap();
    deployments
        .create(&kube::api::PostParams::default(), &d)
        .await
        .expect("create the deployment through kube");
    let pod = wait_for("a running pod", 10, || {
        sim.objects("pods")
            .into_iter()
            .find(|p| p["status"]["phase"] == "Running")
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    })
    .await;
    let pods: kube::Api<Pod> = kube::Api::default_namespaced(client);
    let mut attached = pods
        .exec(
            &pod,
            ["buildctl", "dial-stdio"],
            &kube::api::AttachParams::default()
                .container("buildkitd")
                .stdin(true)
                .stdout(true)
                .stderr(false),
        )
        .await
        .expect("exec through kube");
    let status = attached.take_status().unwrap();
    let io = tokio::io::join(attached.stdout().unwrap(), attached.stdin().unwrap());
    let once = std::sync::Arc::new(std::sync::Mutex::new(Some(io)));
    let channel = tonic::transport::Endpoint::from_static("http://buildkit.invalid")
        .connect_with_connector(tower::service_fn(move |_| {
            let io = once.lock().unwrap().take();
            async move {
                io.map(hyper_util::rt::TokioIo::new)
                    .ok_or_else(|| std::io::Error::other("one exec, one connection"))
            }
        }))
        .await
        .expect("gRPC over kube's exec");
    let workers = ControlClient::new(channel)
        .list_workers(ListWorkersRequest::default())
        .await
        .expect("ListWorkers")
        .into_inner()
        .record;
    assert!(workers[0]
        .platforms
        .iter()
        .any(|p| p.os == "linux" && p.architecture == "amd64"));
    let execs = sim.execs();
    assert_eq!(execs.len(), 1);
    assert_eq!(execs[0].command, ["buildctl", "dial-stdio"]);
    let exec_req = sim
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/exec"))
        .unwrap();
    assert_eq!(exec_req.method, "GET");
    assert!(
        exec_req
            .query
            .contains("command=buildctl&command=dial-stdio"),
        "{}",
        exec_req.query
    );
    // the gRPC client is gone: kube closes stdin (v5), BuildKit hangs up,
    // and kube reads the exit status
    let status = tokio::time::timeout(Duration::from_secs(10), status)
        .await
        .expect("the exec ends")
        .expect("a status on channel 3");
    assert_eq!(status.status.as_deref(), Some("Success"));
}

/// Deterministic bytes that no framing bug would reproduce by accident.
fn pattern(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends `data` through an exec (v5: stdin EOF as `[255, 0]`) to an echo
/// target and returns what came back, the statuses, and the time taken.
async fn echo_through_exec(
    sim: &K8sSim,
    pod: &str,
    data: &[u8],
) -> (Vec<u8>, Vec<Value>, Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ws = ws_connect(
        sim,
        &exec_path(pod, &["buildctl", "dial-stdio"]),
        "v5.channel.k8s.io",
    )
    .await;
    let started = std::time::Instant::now();
    let (io, status) = exec_stream(ws);
    let (mut rd, mut wr) = tokio::io::split(io);
    let payload = data.to_vec();
    let writer = tokio::spawn(async move {
        wr.write_all(&payload).await.unwrap();
        wr.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), rd.read_to_end(&mut back))
        .await
        .expect("the echo comes back in time")
        .unwrap();
    writer.await.unwrap();
    let elapsed = started.elapsed();
    let statuses = tokio::time::timeout(Duration::from_secs(10), status)
        .await
        .expect("a status")
        .unwrap();
    (back, statuses, elapsed)
}

async fn echo_server_tcp() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let (mut r, mut w) = s.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_bridges_bytes_unchanged_to_a_tcp_target() {
    let addr = echo_server_tcp().await;
    let sim = K8sSim::start(SimOptions {
        buildkit: k8s_sim::BuildkitTarget::Tcp(addr),
        ..SimOptions::new()
    })
    .await;
    let pod = running_pod(&sim, "echo").await;
    let data = pattern(8 << 20);
    let (back, statuses, elapsed) = echo_through_exec(&sim, &pod, &data).await;
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the echo differs from what was sent");
    assert_eq!(statuses, [json!({"metadata": {}, "status": "Success"})]);
    eprintln!(
        "8 MiB each way through the simulated exec in {:?} ({:.0} MiB/s per direction)",
        elapsed,
        8.0 / elapsed.as_secs_f64()
    );
}

#[tokio::test]
async fn exec_bridges_to_a_unix_socket_target() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("buildkitd.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::AsyncWriteExt;
                let (mut r, mut w) = s.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    let sim = K8sSim::start(SimOptions {
        buildkit: k8s_sim::BuildkitTarget::Unix(path),
        ..SimOptions::new()
    })
    .await;
    let pod = running_pod(&sim, "unix").await;
    let data = pattern(100_000);
    let (back, statuses, _) = echo_through_exec(&sim, &pod, &data).await;
    assert!(back == data);
    assert_eq!(statuses.len(), 1);
}

#[tokio::test]
async fn exec_to_an_unreachable_target_exits_1_with_the_dial_error_on_stderr() {
    // a port nothing listens on: bound, then closed
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let sim = K8sSim::start(SimOptions {
        buildkit: k8s_sim::BuildkitTarget::Tcp(addr),
        ..SimOptions::new()
    })
    .await;
    let pod = running_pod(&sim, "down").await;
    let mut ws = ws_connect(
        &sim,
        &exec_path(&pod, &["buildctl", "dial-stdio"]),
        "v4.channel.k8s.io",
    )
    .await;
    let mut frames = Vec::new();
    while let Some(Ok(m)) = ws.next().await {
        if let Message::Binary(b) = m {
            frames.push(b.to_vec());
        }
    }
    assert_eq!(frames.len(), 3, "{frames:?}");
    assert_eq!(frames[1][0], 2);
    let stderr = String::from_utf8_lossy(&frames[1][1..]).to_string();
    assert!(
        stderr.starts_with("error: failed to dial buildkitd: "),
        "{stderr}"
    );
    assert!(stderr.contains("refused"), "{stderr}");
    let status: Value = serde_json::from_slice(&frames[2][1..]).unwrap();
    assert_eq!(
        status["message"],
        "command terminated with non-zero exit code: error executing command [buildctl dial-stdio], exit code 1"
    );
}

#[tokio::test]
async fn kube_patches_merge_as_the_api_server_does() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Patch, PatchParams, PostParams};
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::After(Duration::from_millis(10)));
    let dir = tempfile::tempdir().unwrap();
    let client = kube::Client::try_from(kube_client_for(&sim, dir.path())).unwrap();

    let cms: kube::Api<ConfigMap> = kube::Api::default_namespaced(client.clone());
    let cm: ConfigMap = serde_json::from_value(configmap("p", json!({}))).unwrap();
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let merged = cms
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "2"}})),
        )
        .await
        .expect("merge patch");
    let data = merged.data.unwrap();
    assert_eq!(
        data.get("buildkitd.toml").map(String::as_str),
        Some("debug = true\n")
    );
    assert_eq!(data.get("b").map(String::as_str), Some("2"));
    // server-side apply creates what is missing, and needs a field manager
    let applied = cms
        .patch(
            "applied",
            &PatchParams::apply("k8s-sim-test"),
            &Patch::Apply(configmap("applied", json!({"via": "apply"}))),
        )
        .await
        .expect("apply");
    assert_eq!(applied.metadata.labels.unwrap()["via"], "apply");
    match cms
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Apply(configmap("p", json!({}))),
        )
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 422);
            assert!(
                s.message.contains("fieldManager: Required value"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 422, got {other:?}"),
    }

    // a strategic patch of the template rolls the pods to a new ReplicaSet
    let deps: kube::Api<Deployment> = kube::Api::default_namespaced(client);
    let mut d = deployment("roll", 1);
    d["spec"]["template"]["spec"]["containers"][0]["args"] = json!(["--debug"]);
    deps.create(&PostParams::default(), &serde_json::from_value(d).unwrap())
        .await
        .unwrap();
    let first_pod = wait_for("the first pod", 10, || {
        sim.objects("pods")
            .pop()
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    })
    .await;
    let patched = deps
        .patch(
            "roll",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": {"spec": {"containers": [
                {"name": "buildkitd", "image": "moby/buildkit:v0.20.0"}
            ]}}}})),
        )
        .await
        .expect("strategic patch");
    assert_eq!(patched.metadata.generation, Some(2));
    let c = &patched.spec.unwrap().template.spec.unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("moby/buildkit:v0.20.0"));
    assert_eq!(
        c.args.as_deref(),
        Some(&["--debug".to_string()][..]),
        "merged by name, not replaced"
    );
    let pods = wait_for("the rolled pod", 10, || {
        let pods = sim.objects("pods");
        (pods.len() == 1 && pods[0]["metadata"]["name"] != json!(first_pod)).then_some(pods)
    })
    .await;
    assert_eq!(
        pods[0]["spec"]["containers"][0]["image"],
        "moby/buildkit:v0.20.0"
    );
    let rs = sim.objects("replicasets");
    assert_eq!(rs.len(), 2);
    let replicas: Vec<i64> = rs
        .iter()
        .map(|r| r["spec"]["replicas"].as_i64().unwrap())
        .collect();
    assert!(
        replicas.contains(&0) && replicas.contains(&1),
        "{replicas:?}"
    );
    wait_for("observedGeneration 2", 10, || {
        (sim.objects("deployments")[0]["status"]["observedGeneration"] == 2).then_some(())
    })
    .await;
}

#[tokio::test]
async fn kube_watch_sees_a_deployment_become_ready() {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{PostParams, WatchEvent, WatchParams};
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::After(Duration::from_millis(50)));
    let dir = tempfile::tempdir().unwrap();
    let client = kube::Client::try_from(kube_client_for(&sim, dir.path())).unwrap();
    let deps: kube::Api<Deployment> = kube::Api::default_namespaced(client);
    let wp = WatchParams::default().fields("metadata.name=w").timeout(20);
    let mut events = deps.watch(&wp, "0").await.expect("watch").boxed();
    deps.create(
        &PostParams::default(),
        &serde_json::from_value(deployment("w", 1)).unwrap(),
    )
    .await
    .unwrap();
    let mut kinds = Vec::new();
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(ev) = events.next().await {
            match ev.expect("a watch event") {
                WatchEvent::Added(d) => kinds.push(("ADDED", d.metadata.name)),
                WatchEvent::Modified(d) => {
                    kinds.push(("MODIFIED", d.metadata.name.clone()));
                    if d.status.and_then(|s| s.ready_replicas) == Some(1) {
                        return true;
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        false
    })
    .await
    .expect("ready in time");
    assert!(ready);
    assert_eq!(kinds[0], ("ADDED", Some("w".to_string())));
    assert!(kinds.iter().all(|(_, n)| n.as_deref() == Some("w")));
}

#[tokio::test]
async fn delete_propagation_foreground_orphan_and_pod_replacement() {
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::After(Duration::from_millis(10)));
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments");
    api(&sim, "POST", &path, Some(deployment("orphan", 1))).await;
    wait_for("a pod", 10, || {
        (sim.objects("pods").len() == 1).then_some(())
    })
    .await;
    let (s, answer) = api(
        &sim,
        "DELETE",
        &format!("{path}/orphan"),
        Some(json!({"propagationPolicy": "Orphan"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(answer["kind"], "Deployment");
    assert!(answer["metadata"]["deletionTimestamp"].is_string());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let rs = sim.objects("replicasets");
    assert_eq!(rs.len(), 1, "the ReplicaSet stays");
    assert!(rs[0]["metadata"].get("ownerReferences").is_none());
    assert_eq!(sim.objects("pods").len(), 1);

    api(&sim, "POST", &path, Some(deployment("fg", 1))).await;
    wait_for("its pod", 10, || {
        (sim.objects("pods").len() == 2).then_some(())
    })
    .await;
    let (s, answer) = api(
        &sim,
        "DELETE",
        &format!("{path}/fg?propagationPolicy=Foreground"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(
        answer["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert_eq!(sim.objects("pods").len(), 1, "fg's pod went with it");
    assert_eq!(sim.objects("deployments").len(), 0);

    let (s, v) = api(
        &sim,
        "DELETE",
        &format!("{path}/x?propagationPolicy=Sometimes"),
        None,
    )
    .await;
    assert_eq!(s, 422);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("Unsupported value: \"Sometimes\""));

    // a pod of a ReplicaSet is replaced; pods answer with the object
    let rs_name = sim.objects("replicasets")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    // the orphaned ReplicaSet still controls its pod
    let old = sim.objects("pods")[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, answer) = api(
        &sim,
        "DELETE",
        &format!("/api/v1/namespaces/{NS}/pods/{old}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(answer["kind"], "Pod");
    assert_eq!(answer["metadata"]["deletionGracePeriodSeconds"], 30);
    let new = wait_for("a replacement", 10, || {
        let pods = sim.objects("pods");
        pods.first()
            .filter(|p| p["metadata"]["name"] != json!(old))
            .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
    })
    .await;
    assert!(new.starts_with(&format!("{rs_name}-")), "{new}");
}

#[tokio::test]
async fn scale_subresource_reads_and_sets_replicas() {
    let sim = plain_sim().await;
    sim.set_readiness(Readiness::After(Duration::from_millis(10)));
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments");
    api(&sim, "POST", &path, Some(deployment("sc", 1))).await;
    let (s, scale) = api(&sim, "GET", &format!("{path}/sc/scale"), None).await;
    assert_eq!(s, 200);
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["spec"], json!({"replicas": 1}));
    assert_eq!(scale["status"]["selector"], "app=sc");
    let (s, scale) = api(
        &sim,
        "PUT",
        &format!("{path}/sc/scale"),
        Some(json!({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "sc"}, "spec": {"replicas": 3}})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(scale["spec"]["replicas"], 3);
    wait_for("3 ready", 10, || {
        (sim.objects("deployments")[0]["status"]["readyReplicas"] == 3).then_some(())
    })
    .await;
    assert_eq!(sim.objects("pods").len(), 3);
}

#[tokio::test]
async fn updates_may_not_change_immutable_fields() {
    let sim = plain_sim().await;
    let path = format!("/apis/apps/v1/namespaces/{NS}/deployments");
    let (_, mut created) = api(&sim, "POST", &path, Some(deployment("imm", 1))).await;
    // the controllers write the status meanwhile: update unconditionally
    created["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    let mut changed = created.clone();
    changed["spec"]["selector"]["matchLabels"]["extra"] = json!("x");
    changed["spec"]["template"]["metadata"]["labels"]["extra"] = json!("x");
    let (s, v) = api(&sim, "PUT", &format!("{path}/imm"), Some(changed)).await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["details"]["causes"][0]["field"], "spec.selector");
    assert!(v["message"]
        .as_str()
        .unwrap()
        .ends_with("field is immutable"));
    // replicas may change, and bump the generation
    let mut scaled = created.clone();
    scaled["spec"]["replicas"] = json!(2);
    let (s, v) = api(&sim, "PUT", &format!("{path}/imm"), Some(scaled)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["metadata"]["generation"], 2);

    let cms = format!("/api/v1/namespaces/{NS}/configmaps");
    let mut cm = configmap("frozen", json!({}));
    cm["immutable"] = json!(true);
    let (_, created) = api(&sim, "POST", &cms, Some(cm)).await;
    let mut edited = created;
    edited["data"]["buildkitd.toml"] = json!("debug = false\n");
    let (s, v) = api(&sim, "PUT", &format!("{cms}/frozen"), Some(edited)).await;
    assert_eq!(s, 422);
    assert_eq!(
        v["message"],
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
}

#[tokio::test]
async fn deleting_the_pod_ends_its_exec_with_exit_code_137() {
    let addr = echo_server_tcp().await;
    let sim = K8sSim::start(SimOptions {
        buildkit: k8s_sim::BuildkitTarget::Tcp(addr),
        ..SimOptions::new()
    })
    .await;
    let pod = running_pod(&sim, "killed").await;
    let mut ws = ws_connect(
        &sim,
        &exec_path(&pod, &["buildctl", "dial-stdio"]),
        "v5.channel.k8s.io",
    )
    .await;
    ws.send(Message::binary(b"\x00ping".to_vec()))
        .await
        .unwrap();
    let mut frames = Vec::new();
    while frames.len() < 2 {
        if let Some(Ok(Message::Binary(b))) = ws.next().await {
            frames.push(b.to_vec());
        }
    }
    assert_eq!(frames, [b"\x01".to_vec(), b"\x01ping".to_vec()]);
    let (s, _) = api(
        &sim,
        "DELETE",
        &format!("/api/v1/namespaces/{NS}/pods/{pod}"),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Binary(b) = m {
                rest.push(b.to_vec());
            }
        }
    })
    .await
    .expect("the exec ends with its pod");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0][0], 3);
    let status: Value = serde_json::from_slice(&rest[0][1..]).unwrap();
    assert_eq!(status["reason"], "NonZeroExitCode");
    assert_eq!(status["details"]["causes"][0]["message"], "137");
    wait_for("the bridge to close", 5, || {
        (sim.open_execs() == 0).then_some(())
    })
    .await;
}
