//! What the control plane and kubelet would do after a write: the
//! deployment controller (a ReplicaSet per pod template, scaled to
//! `spec.replicas`), the replicaset and statefulset controllers (pods, PVCs
//! from `volumeClaimTemplates`, `OrderedReady` one pod at a time), the
//! scheduler (every pod goes to node `sim-node`), the kubelet (pods become
//! Running and Ready on the schedule [`Readiness`] sets, or stay waiting
//! with a reason), the garbage collector (dependents by `ownerReferences`)
//! and their events. Each step runs asynchronously after the write that
//! caused it, as in a real cluster.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::selector::LabelSelector;
use super::store::{self, meta_mut, Shared, State, NODE_NAME};
use super::Readiness;

/// Work that follows a change, run after the state lock is released.
#[derive(Debug, Clone)]
pub enum Follow {
    Reconcile {
        plural: &'static str,
        namespace: String,
        name: String,
    },
    /// Mark a pod (if it is still the same pod) Running and Ready.
    ReadyAfter {
        namespace: String,
        name: String,
        uid: String,
        delay: Duration,
    },
    /// Delete the dependents of a deleted owner (background propagation).
    CollectGarbage(String),
}

/// Runs `f` on the state, wakes watches, then starts the follow-up work.
pub fn run<T>(shared: &Arc<Shared>, f: impl FnOnce(&mut State) -> (T, Vec<Follow>)) -> T {
    let (out, follow) = {
        let mut st = shared.lock();
        f(&mut st)
    };
    shared.changed.notify_waiters();
    start(shared, follow);
    out
}

/// Not generic, so the tasks' closures are one type each (a generic
/// `run` spawning `run` would instantiate itself without end).
fn start(shared: &Arc<Shared>, follow: Vec<Follow>) {
    for step in follow {
        let shared = shared.clone();
        tokio::spawn(async move {
            let next = match step {
                Follow::Reconcile {
                    plural,
                    namespace,
                    name,
                } => step_on(&shared, |st| reconcile(st, plural, &namespace, &name)),
                Follow::ReadyAfter {
                    namespace,
                    name,
                    uid,
                    delay,
                } => {
                    tokio::time::sleep(delay).await;
                    step_on(&shared, |st| mark_ready(st, &namespace, &name, &uid))
                }
                Follow::CollectGarbage(uid) => step_on(&shared, |st| {
                    delete_dependents(st, &uid);
                    Vec::new()
                }),
            };
            start(&shared, next);
        });
    }
}

fn step_on(shared: &Shared, f: impl FnOnce(&mut State) -> Vec<Follow>) -> Vec<Follow> {
    let next = {
        let mut st = shared.lock();
        f(&mut st)
    };
    shared.changed.notify_waiters();
    next
}

fn reconcile_later(plural: &'static str, namespace: &str, name: &str) -> Follow {
    Follow::Reconcile {
        plural,
        namespace: namespace.to_string(),
        name: name.to_string(),
    }
}

/// What a create or update of `plural/name` sets in motion.
pub fn after_write(_st: &mut State, plural: &'static str, ns: &str, name: &str) -> Vec<Follow> {
    match plural {
        "deployments" | "replicasets" | "statefulsets" | "pods" => {
            vec![reconcile_later(plural, ns, name)]
        }
        _ => Vec::new(),
    }
}

/// What the deletion of `deleted` sets in motion: its controller notices.
pub fn after_delete(st: &mut State, deleted: &Value) -> Vec<Follow> {
    let ns = deleted["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default();
    match controller_of(st, deleted) {
        Some((plural, name)) => vec![reconcile_later(plural, ns, &name)],
        None => Vec::new(),
    }
}

/// The controlling owner of an object, if it still exists.
fn controller_of(st: &State, obj: &Value) -> Option<(&'static str, String)> {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or_default();
    let refs = obj["metadata"]["ownerReferences"].as_array()?;
    let r = refs.iter().find(|r| r["controller"] == json!(true))?;
    let plural = match r["kind"].as_str()? {
        "ReplicaSet" => "replicasets",
        "Deployment" => "deployments",
        "StatefulSet" => "statefulsets",
        _ => return None,
    };
    let name = r["name"].as_str()?.to_string();
    let owner = st.get(plural, ns, &name)?;
    (owner["metadata"]["uid"] == r["uid"]).then_some((plural, name))
}

fn uid_of(obj: &Value) -> String {
    obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn name_of(obj: &Value) -> String {
    obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn owned_by(obj: &Value, uid: &str) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == json!(uid)))
}

/// Deletes every object owned by `uid`, and theirs in turn.
pub fn delete_dependents(st: &mut State, uid: &str) {
    let dependents: Vec<_> = st
        .objects
        .iter()
        .filter(|(_, o)| owned_by(o, uid))
        .map(|(k, o)| (k.clone(), uid_of(o)))
        .collect();
    for (k, dep_uid) in dependents {
        st.remove(k.plural, &k.namespace, &k.name);
        delete_dependents(st, &dep_uid);
    }
}

/// Removes the owner reference to `uid` from its dependents.
pub fn orphan_dependents(st: &mut State, uid: &str) {
    let dependents: Vec<_> = st
        .objects
        .iter()
        .filter(|(_, o)| owned_by(o, uid))
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect();
    for (k, mut o) in dependents {
        if let Some(refs) = o["metadata"]["ownerReferences"].as_array_mut() {
            refs.retain(|r| r["uid"] != json!(uid));
            if refs.is_empty() {
                meta_mut(&mut o).remove("ownerReferences");
            }
        }
        st.replace(k.plural, &k.namespace, o);
    }
}

fn owner_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

fn reconcile(st: &mut State, plural: &'static str, ns: &str, name: &str) -> Vec<Follow> {
    match plural {
        "deployments" => reconcile_deployment(st, ns, name),
        "replicasets" => {
            let follow = reconcile_replicaset(st, ns, name);
            if let Some(rs) = st.get("replicasets", ns, name).cloned() {
                if let Some(("deployments", owner)) = controller_of(st, &rs) {
                    update_deployment_status(st, ns, &owner);
                }
            }
            follow
        }
        "statefulsets" => reconcile_statefulset(st, ns, name),
        "pods" => {
            let Some(pod) = st.get("pods", ns, name).cloned() else {
                return Vec::new();
            };
            if pod["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .is_empty()
            {
                return schedule_pod(st, ns, name);
            }
            match controller_of(st, &pod) {
                Some((p, owner)) => reconcile(st, p, ns, &owner),
                None => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

fn replicas_of(obj: &Value) -> i64 {
    obj["spec"]["replicas"].as_i64().unwrap_or(1).max(0)
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

fn is_terminating(obj: &Value) -> bool {
    !obj["metadata"]["deletionTimestamp"].is_null()
}

fn pods_owned(st: &State, ns: &str, uid: &str) -> Vec<Value> {
    st.list("pods", Some(ns))
        .into_iter()
        .filter(|p| owned_by(p, uid) && !is_terminating(p))
        .collect()
}

fn reconcile_deployment(st: &mut State, ns: &str, name: &str) -> Vec<Follow> {
    let Some(dep) = st.get("deployments", ns, name).cloned() else {
        return Vec::new();
    };
    if is_terminating(&dep) {
        return Vec::new();
    }
    let dep_uid = uid_of(&dep);
    let template = dep["spec"]["template"].clone();
    let hash = store::safe_hash(&template);
    let rs_name = format!("{name}-{hash}");
    let replicas = replicas_of(&dep);
    let mut follow = Vec::new();

    let owned_rs: Vec<Value> = st
        .list("replicasets", Some(ns))
        .into_iter()
        .filter(|rs| owned_by(rs, &dep_uid))
        .collect();
    let revision = owned_rs.len() + 1;
    match st.get("replicasets", ns, &rs_name).cloned() {
        None => {
            let mut labels = template["metadata"]["labels"].clone();
            labels["pod-template-hash"] = json!(hash);
            let mut selector = dep["spec"]["selector"].clone();
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let mut rs_template = template.clone();
            rs_template["metadata"]["labels"] = labels.clone();
            let rs = json!({
                "kind": "ReplicaSet",
                "apiVersion": "apps/v1",
                "metadata": {
                    "name": rs_name,
                    "labels": labels,
                    "annotations": {
                        "deployment.kubernetes.io/desired-replicas": replicas.to_string(),
                        "deployment.kubernetes.io/max-replicas": (replicas + (replicas + 3) / 4).to_string(),
                        "deployment.kubernetes.io/revision": revision.to_string(),
                    },
                    "ownerReferences": [owner_ref(&dep)],
                    "generation": 1,
                },
                "spec": {
                    "replicas": replicas,
                    "minReadySeconds": dep["spec"]["minReadySeconds"].as_i64().unwrap_or(0),
                    "selector": selector,
                    "template": rs_template,
                },
                "status": {"replicas": 0},
            });
            st.insert_new("replicasets", ns, rs);
            st.record_event(
                &dep,
                "Normal",
                "ScalingReplicaSet",
                &format!("Scaled up replica set {rs_name} from 0 to {replicas}"),
                "deployment-controller",
                None,
            );
        }
        Some(mut rs) => {
            let had = replicas_of(&rs);
            if had != replicas {
                rs["spec"]["replicas"] = json!(replicas);
                let g = rs["metadata"]["generation"].as_i64().unwrap_or(1);
                rs["metadata"]["generation"] = json!(g + 1);
                rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                    json!(replicas.to_string());
                st.replace("replicasets", ns, rs);
                let dir = if replicas > had { "up" } else { "down" };
                st.record_event(
                    &dep,
                    "Normal",
                    "ScalingReplicaSet",
                    &format!("Scaled {dir} replica set {rs_name} from {had} to {replicas}"),
                    "deployment-controller",
                    None,
                );
            }
        }
    }
    // A new template replaces the old ReplicaSets' pods (the rolling update
    // is collapsed into one step).
    for mut old in owned_rs.into_iter().filter(|rs| name_of(rs) != rs_name) {
        let had = replicas_of(&old);
        if had > 0 {
            old["spec"]["replicas"] = json!(0);
            let old_name = name_of(&old);
            st.replace("replicasets", ns, old);
            st.record_event(
                &dep,
                "Normal",
                "ScalingReplicaSet",
                &format!("Scaled down replica set {old_name} from {had} to 0"),
                "deployment-controller",
                None,
            );
            follow.extend(reconcile_replicaset(st, ns, &old_name));
        }
    }
    follow.extend(reconcile_replicaset(st, ns, &rs_name));
    update_deployment_status(st, ns, name);
    follow
}

fn reconcile_replicaset(st: &mut State, ns: &str, name: &str) -> Vec<Follow> {
    let Some(rs) = st.get("replicasets", ns, name).cloned() else {
        return Vec::new();
    };
    if is_terminating(&rs) {
        return Vec::new();
    }
    let uid = uid_of(&rs);
    let desired = replicas_of(&rs) as usize;
    let mut pods = pods_owned(st, ns, &uid);
    let mut follow = Vec::new();
    while pods.len() < desired {
        let pod_name = format!("{name}-{}", store::random_suffix(5));
        let template = &rs["spec"]["template"];
        let mut meta = json!({
            "name": pod_name,
            "generateName": format!("{name}-"),
            "ownerReferences": [owner_ref(&rs)],
        });
        for k in ["labels", "annotations"] {
            if !template["metadata"][k].is_null() {
                meta[k] = template["metadata"][k].clone();
            }
        }
        let pod = new_pod(meta, template["spec"].clone());
        let stored = st.insert_new("pods", ns, pod);
        st.record_event(
            &rs,
            "Normal",
            "SuccessfulCreate",
            &format!("Created pod: {pod_name}"),
            "replicaset-controller",
            None,
        );
        follow.extend(schedule_pod(st, ns, &pod_name));
        pods.push(stored);
    }
    if pods.len() > desired {
        // Not-ready pods go first, then the newest.
        pods.sort_by_key(|p| {
            (
                is_ready(p),
                std::cmp::Reverse(
                    p["metadata"]["creationTimestamp"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        });
        let surplus = pods.len() - desired;
        for p in pods.drain(..surplus) {
            let pod_name = name_of(&p);
            st.remove("pods", ns, &pod_name);
            st.record_event(
                &rs,
                "Normal",
                "SuccessfulDelete",
                &format!("Deleted pod: {pod_name}"),
                "replicaset-controller",
                None,
            );
        }
    }
    let ready = pods.iter().filter(|p| is_ready(p)).count();
    let mut next = rs.clone();
    let mut status = json!({
        "replicas": pods.len(),
        "observedGeneration": rs["metadata"]["generation"].as_i64().unwrap_or(1),
    });
    let labelled = pods.len();
    if labelled > 0 {
        status["fullyLabeledReplicas"] = json!(labelled);
    }
    if ready > 0 {
        status["readyReplicas"] = json!(ready);
        status["availableReplicas"] = json!(ready);
    }
    next["status"] = status;
    st.replace("replicasets", ns, next);
    follow
}

/// `maxUnavailable` of a rolling update, resolved against `replicas`.
fn max_unavailable(dep: &Value, replicas: i64) -> i64 {
    match &dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) if s.ends_with('%') => {
            s.trim_end_matches('%').parse::<i64>().unwrap_or(25) * replicas / 100
        }
        _ => 0,
    }
}

/// A condition, keeping its transition time while its status stays.
fn condition(old: &Value, kind: &str, status: &str, reason: &str, message: &str) -> Value {
    let now = store::now_rfc3339();
    let prev = old["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind));
    let transition = match prev {
        Some(p) if p["status"] == status => p["lastTransitionTime"].clone(),
        _ => json!(now),
    };
    let update_time = match prev {
        Some(p) if p["status"] == status && p["reason"] == reason => p["lastUpdateTime"].clone(),
        _ => json!(now),
    };
    json!({
        "type": kind,
        "status": status,
        "lastUpdateTime": update_time,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    })
}

fn update_deployment_status(st: &mut State, ns: &str, name: &str) {
    let Some(dep) = st.get("deployments", ns, name).cloned() else {
        return;
    };
    let uid = uid_of(&dep);
    let desired = replicas_of(&dep);
    let rs_name = format!("{name}-{}", store::safe_hash(&dep["spec"]["template"]));
    let mut total = 0i64;
    let mut updated = 0i64;
    let mut ready = 0i64;
    for rs in st
        .list("replicasets", Some(ns))
        .into_iter()
        .filter(|rs| owned_by(rs, &uid))
    {
        let pods = pods_owned(st, ns, &uid_of(&rs));
        let n = pods.len() as i64;
        total += n;
        if name_of(&rs) == rs_name {
            updated += n;
        }
        ready += pods.iter().filter(|p| is_ready(p)).count() as i64;
    }
    let available = ready;
    let mut status = serde_json::Map::new();
    status.insert(
        "observedGeneration".into(),
        json!(dep["metadata"]["generation"].as_i64().unwrap_or(1)),
    );
    // DeploymentStatus fields are `omitempty`: zeros are left out.
    for (k, v) in [
        ("replicas", total),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", (desired - available).max(0)),
    ] {
        if v != 0 {
            status.insert(k.into(), json!(v));
        }
    }
    let minimum = available >= desired - max_unavailable(&dep, desired);
    let available_cond = if minimum {
        condition(
            &dep,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
    } else {
        condition(
            &dep,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
    };
    let progressing = if updated == desired && available == desired && total == desired {
        condition(
            &dep,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            &format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
        )
    } else {
        condition(
            &dep,
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            &format!("ReplicaSet \"{rs_name}\" is progressing."),
        )
    };
    status.insert("conditions".into(), json!([available_cond, progressing]));
    let mut next = dep.clone();
    next["status"] = Value::Object(status);
    st.replace("deployments", ns, next);
}

fn reconcile_statefulset(st: &mut State, ns: &str, name: &str) -> Vec<Follow> {
    let Some(sts) = st.get("statefulsets", ns, name).cloned() else {
        return Vec::new();
    };
    if is_terminating(&sts) {
        return Vec::new();
    }
    let uid = uid_of(&sts);
    let desired = replicas_of(&sts);
    let parallel = sts["spec"]["podManagementPolicy"] == "Parallel";
    let revision = format!("{name}-{}", store::safe_hash(&sts["spec"]["template"]));
    let delete_pvcs =
        sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"] == "Delete";
    let mut follow = Vec::new();
    for i in 0..desired {
        let pod_name = format!("{name}-{i}");
        if let Some(existing) = st.get("pods", ns, &pod_name) {
            if !parallel && !is_ready(existing) {
                break;
            }
            continue;
        }
        let mut volumes = sts["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for tpl in sts["spec"]["volumeClaimTemplates"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let tpl_name = name_of(&tpl);
            let claim = format!("{tpl_name}-{pod_name}");
            volumes.push(json!({"name": tpl_name, "persistentVolumeClaim": {"claimName": claim}}));
            if st.get("persistentvolumeclaims", ns, &claim).is_some() {
                continue;
            }
            let mut labels = sts["spec"]["selector"]["matchLabels"].clone();
            if let Some(m) = tpl["metadata"]["labels"].as_object() {
                for (k, v) in m {
                    labels[k] = v.clone();
                }
            }
            let mut spec = tpl["spec"].clone();
            if spec["volumeMode"].is_null() {
                spec["volumeMode"] = json!("Filesystem");
            }
            if spec["storageClassName"].is_null() {
                spec["storageClassName"] = json!("standard");
            }
            spec["volumeName"] = json!(format!("pvc-{}", store::new_uid()));
            let mut meta = json!({"name": claim, "labels": labels});
            if delete_pvcs {
                meta["ownerReferences"] = json!([owner_ref(&sts)]);
                meta["ownerReferences"][0]["controller"] = json!(true);
            }
            let pvc = json!({
                "kind": "PersistentVolumeClaim",
                "apiVersion": "v1",
                "metadata": meta,
                "spec": spec,
                "status": {
                    "phase": "Bound",
                    "accessModes": tpl["spec"]["accessModes"],
                    "capacity": {"storage": tpl["spec"]["resources"]["requests"]["storage"]},
                },
            });
            st.insert_new("persistentvolumeclaims", ns, pvc);
            st.record_event(
                &sts,
                "Normal",
                "SuccessfulCreate",
                &format!("create Claim {claim} Pod {pod_name} in StatefulSet {name} success"),
                "statefulset-controller",
                None,
            );
        }
        let template = &sts["spec"]["template"];
        let mut labels = template["metadata"]["labels"].clone();
        labels["controller-revision-hash"] = json!(revision);
        labels["statefulset.kubernetes.io/pod-name"] = json!(pod_name);
        labels["apps.kubernetes.io/pod-index"] = json!(i.to_string());
        let mut meta = json!({
            "name": pod_name,
            "generateName": format!("{name}-"),
            "labels": labels,
            "ownerReferences": [owner_ref(&sts)],
        });
        if !template["metadata"]["annotations"].is_null() {
            meta["annotations"] = template["metadata"]["annotations"].clone();
        }
        let mut spec = template["spec"].clone();
        spec["hostname"] = json!(pod_name);
        if let Some(svc) = sts["spec"]["serviceName"]
            .as_str()
            .filter(|s| !s.is_empty())
        {
            spec["subdomain"] = json!(svc);
        }
        if !volumes.is_empty() {
            spec["volumes"] = json!(volumes);
        }
        st.insert_new("pods", ns, new_pod(meta, spec));
        st.record_event(
            &sts,
            "Normal",
            "SuccessfulCreate",
            &format!("create Pod {pod_name} in StatefulSet {name} successful"),
            "statefulset-controller",
            None,
        );
        follow.extend(schedule_pod(st, ns, &pod_name));
        if !parallel {
            break;
        }
    }
    let mut pods = pods_owned(st, ns, &uid);
    pods.sort_by_key(|p| ordinal(p).unwrap_or(0));
    for p in pods.iter().rev() {
        if ordinal(p).is_some_and(|o| o >= desired) {
            let pod_name = name_of(p);
            st.remove("pods", ns, &pod_name);
            st.record_event(
                &sts,
                "Normal",
                "SuccessfulDelete",
                &format!("delete Pod {pod_name} in StatefulSet {name} successful"),
                "statefulset-controller",
                None,
            );
        }
    }
    let pods = pods_owned(st, ns, &uid);
    let ready = pods.iter().filter(|p| is_ready(p)).count() as i64;
    let n = pods.len() as i64;
    let mut status = json!({
        "observedGeneration": sts["metadata"]["generation"].as_i64().unwrap_or(1),
        "replicas": n,
        "availableReplicas": ready,
        "currentRevision": revision,
        "updateRevision": revision,
        "collisionCount": 0,
    });
    // readyReplicas, currentReplicas, updatedReplicas are `omitempty`.
    for (k, v) in [
        ("readyReplicas", ready),
        ("currentReplicas", n),
        ("updatedReplicas", n),
    ] {
        if v != 0 {
            status[k] = json!(v);
        }
    }
    let mut next = sts.clone();
    next["status"] = status;
    st.replace("statefulsets", ns, next);
    follow
}

fn ordinal(pod: &Value) -> Option<i64> {
    pod["metadata"]["labels"]["apps.kubernetes.io/pod-index"]
        .as_str()
        .and_then(|s| s.parse().ok())
}

/// A pod as a controller creates it: Pending, not yet scheduled.
fn new_pod(meta: Value, mut spec: Value) -> Value {
    super::validate::pod_spec_defaults(&mut spec);
    json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": meta,
        "spec": spec,
        "status": {"phase": "Pending", "qosClass": qos_class(&spec)},
    })
}

/// `Guaranteed`, `Burstable` or `BestEffort` from the containers' resources.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers = spec["containers"].as_array().cloned().unwrap_or_default();
    let any = containers.iter().any(|c| {
        c["resources"]["requests"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
            || c["resources"]["limits"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let limits = &c["resources"]["limits"];
        ["cpu", "memory"].iter().all(|r| {
            !limits[r].is_null()
                && (c["resources"]["requests"][r].is_null()
                    || c["resources"]["requests"][r] == limits[r])
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

fn container_names(pod: &Value) -> Vec<String> {
    pod["spec"]["containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The scheduler binds the pod to `sim-node`; the kubelet starts pulling.
/// Readiness then follows the schedule in force now.
fn schedule_pod(st: &mut State, ns: &str, name: &str) -> Vec<Follow> {
    let Some(mut pod) = st.get("pods", ns, name).cloned() else {
        return Vec::new();
    };
    if !pod["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .is_empty()
    {
        return Vec::new();
    }
    let now = store::now_rfc3339();
    pod["spec"]["nodeName"] = json!(NODE_NAME);
    let names = container_names(&pod);
    let unready = format!("containers with unready status: [{}]", names.join(" "));
    let waiting = |reason: &str, message: Option<&str>| -> Vec<Value> {
        pod["spec"]["containers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                let mut w = json!({"reason": reason});
                if let Some(m) = message {
                    w["message"] = json!(m);
                }
                json!({
                    "name": c["name"],
                    "image": c["image"],
                    "imageID": "",
                    "ready": false,
                    "restartCount": 0,
                    "started": false,
                    "state": {"waiting": w},
                    "lastState": {},
                })
            })
            .collect()
    };
    let readiness = st.readiness.clone();
    let statuses = match &readiness {
        Readiness::After(_) => waiting("ContainerCreating", None),
        Readiness::Never { reason, message } => waiting(reason, Some(message)),
    };
    pod["status"] = json!({
        "phase": "Pending",
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "startTime": now,
        "qosClass": pod["status"]["qosClass"].as_str().unwrap_or("BestEffort"),
        "conditions": [
            {"type": "PodReadyToStartContainers", "status": "False", "lastProbeTime": null, "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": now},
            {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": now, "reason": "ContainersNotReady", "message": unready},
            {"type": "ContainersReady", "status": "False", "lastProbeTime": null, "lastTransitionTime": now, "reason": "ContainersNotReady", "message": unready},
            {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": now},
        ],
        "containerStatuses": statuses,
    });
    let pod = st.replace("pods", ns, pod);
    st.record_event(
        &pod,
        "Normal",
        "Scheduled",
        &format!("Successfully assigned {ns}/{name} to {NODE_NAME}"),
        "default-scheduler",
        None,
    );
    let containers = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for c in &containers {
        let cname = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let field = format!("spec.containers{{{cname}}}");
        st.record_event(
            &pod,
            "Normal",
            "Pulling",
            &format!("Pulling image \"{image}\""),
            "kubelet",
            Some(&field),
        );
        if let Readiness::Never { reason, message } = &readiness {
            st.record_event(
                &pod,
                "Warning",
                "Failed",
                &format!("Error: {reason}"),
                "kubelet",
                Some(&field),
            );
            st.record_event(&pod, "Normal", "BackOff", message, "kubelet", Some(&field));
        }
    }
    match readiness {
        Readiness::After(delay) => vec![Follow::ReadyAfter {
            namespace: ns.to_string(),
            name: name.to_string(),
            uid: uid_of(&pod),
            delay,
        }],
        Readiness::Never { .. } => Vec::new(),
    }
}

/// The kubelet started the containers and the probes passed.
fn mark_ready(st: &mut State, ns: &str, name: &str, uid: &str) -> Vec<Follow> {
    let Some(mut pod) = st.get("pods", ns, name).cloned() else {
        return Vec::new();
    };
    if uid_of(&pod) != uid || is_terminating(&pod) {
        return Vec::new();
    }
    let now = store::now_rfc3339();
    let ip = pod_ip(st);
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let image = c["image"].as_str().unwrap_or_default();
            json!({
                "name": c["name"],
                "image": image,
                "imageID": format!("docker-pullable://{image}@sha256:{}", "0".repeat(64)),
                "containerID": format!("containerd://{}", store::new_uid().replace('-', "")),
                "ready": true,
                "restartCount": 0,
                "started": true,
                "state": {"running": {"startedAt": now}},
                "lastState": {},
            })
        })
        .collect();
    let cond = |t: &str| json!({"type": t, "status": "True", "lastProbeTime": null, "lastTransitionTime": now});
    pod["status"]["phase"] = json!("Running");
    pod["status"]["podIP"] = json!(ip);
    pod["status"]["podIPs"] = json!([{"ip": ip}]);
    pod["status"]["conditions"] = json!([
        cond("PodReadyToStartContainers"),
        cond("Initialized"),
        cond("Ready"),
        cond("ContainersReady"),
        cond("PodScheduled"),
    ]);
    pod["status"]["containerStatuses"] = json!(statuses);
    let pod = st.replace("pods", ns, pod);
    for c in pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let cname = c["name"].as_str().unwrap_or_default();
        let image = c["image"].as_str().unwrap_or_default();
        let field = format!("spec.containers{{{cname}}}");
        for (reason, message) in [
            ("Pulled", format!("Successfully pulled image \"{image}\" in 1.2s (1.2s including waiting). Image size: 77000000 bytes.")),
            ("Created", format!("Created container: {cname}")),
            ("Started", format!("Started container {cname}")),
        ] {
            st.record_event(&pod, "Normal", reason, &message, "kubelet", Some(&field));
        }
    }
    match controller_of(st, &pod) {
        Some((plural, owner)) => reconcile(st, plural, ns, &owner),
        None => Vec::new(),
    }
}

/// A pod IP from 10.244.0.0/24 no running pod uses.
fn pod_ip(st: &State) -> String {
    let used: Vec<String> = st
        .list("pods", None)
        .iter()
        .filter_map(|p| p["status"]["podIP"].as_str().map(String::from))
        .collect();
    (2..255)
        .map(|n| format!("10.244.0.{n}"))
        .find(|ip| !used.contains(ip))
        .unwrap_or_else(|| "10.244.0.254".into())
}

/// Pods a workload's selector selects (for tests and the exec checks).
pub fn selected_pods(st: &State, ns: &str, selector: &Value) -> Vec<Value> {
    let sel = LabelSelector::from_label_selector_object(selector);
    st.list("pods", Some(ns))
        .into_iter()
        .filter(|p| sel.matches(p))
        .collect()
}
