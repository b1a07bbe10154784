//! The simulator's state: stored objects keyed by resource, namespace and
//! name, one global `resourceVersion` counter (as etcd's revision), the
//! history of changes that watches replay, and what tests inspect
//! (requests, execs).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Mutex, MutexGuard};

use serde_json::{json, Value};

use super::{Readiness, SimOptions};

/// One request as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string (still percent-encoded), `""` if none.
    pub query: String,
    /// The body parsed as JSON; `Null` when empty or not JSON.
    pub body: serde_json::Value,
}

/// One exec request on an existing pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRecord {
    pub pod: String,
    pub container: String,
    pub command: Vec<String>,
}

/// A resource type the simulator serves.
#[derive(Debug)]
pub struct ResourceType {
    /// URL segment: `pods`, `deployments`.
    pub plural: &'static str,
    pub kind: &'static str,
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    /// Whether DELETE answers with the deleted object (as pods and PVCs do)
    /// rather than a `Status`.
    pub returns_deleted_object: bool,
    /// Field labels a field selector may use besides `metadata.name` and
    /// `metadata.namespace`.
    pub field_labels: &'static [&'static str],
    pub short_names: &'static [&'static str],
}

impl ResourceType {
    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `deployments.apps`, as error messages name a resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Pod` or `Deployment.apps`, as validation messages name a kind.
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_string()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

pub static RESOURCES: &[ResourceType] = &[
    ResourceType {
        plural: "pods",
        kind: "Pod",
        group: "",
        version: "v1",
        namespaced: true,
        returns_deleted_object: true,
        field_labels: &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        short_names: &["po"],
    },
    ResourceType {
        plural: "configmaps",
        kind: "ConfigMap",
        group: "",
        version: "v1",
        namespaced: true,
        returns_deleted_object: false,
        field_labels: &[],
        short_names: &["cm"],
    },
    ResourceType {
        plural: "events",
        kind: "Event",
        group: "",
        version: "v1",
        namespaced: true,
        returns_deleted_object: false,
        field_labels: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        short_names: &["ev"],
    },
    ResourceType {
        plural: "persistentvolumeclaims",
        kind: "PersistentVolumeClaim",
        group: "",
        version: "v1",
        namespaced: true,
        returns_deleted_object: true,
        field_labels: &[],
        short_names: &["pvc"],
    },
    ResourceType {
        plural: "namespaces",
        kind: "Namespace",
        group: "",
        version: "v1",
        namespaced: false,
        returns_deleted_object: true,
        field_labels: &["status.phase"],
        short_names: &["ns"],
    },
    ResourceType {
        plural: "deployments",
        kind: "Deployment",
        group: "apps",
        version: "v1",
        namespaced: true,
        returns_deleted_object: false,
        field_labels: &[],
        short_names: &["deploy"],
    },
    ResourceType {
        plural: "replicasets",
        kind: "ReplicaSet",
        group: "apps",
        version: "v1",
        namespaced: true,
        returns_deleted_object: false,
        field_labels: &["status.replicas"],
        short_names: &["rs"],
    },
    ResourceType {
        plural: "statefulsets",
        kind: "StatefulSet",
        group: "apps",
        version: "v1",
        namespaced: true,
        returns_deleted_object: false,
        field_labels: &[],
        short_names: &["sts"],
    },
];

/// The resource type served at `group`/`version`/`plural`.
pub fn resource(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.version == version && r.plural == plural)
}

/// The resource type of a plural name in any group.
pub fn resource_by_plural(plural: &str) -> Option<&'static ResourceType> {
    RESOURCES.iter().find(|r| r.plural == plural)
}

/// Where an object is stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub plural: &'static str,
    /// `""` for cluster-scoped objects.
    pub namespace: String,
    pub name: String,
}

/// One change, as watches see it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub plural: &'static str,
    pub namespace: String,
    /// `ADDED`, `MODIFIED`, `DELETED`.
    pub kind: &'static str,
    pub object: Value,
    /// The object before a `MODIFIED`, so a selector watch can tell when an
    /// object entered or left its selection.
    pub previous: Option<Value>,
}

pub struct State {
    pub rv: u64,
    pub objects: BTreeMap<Key, Value>,
    pub history: Vec<Change>,
    pub requests: Vec<Recorded>,
    pub execs: Vec<ExecRecord>,
    pub readiness: Readiness,
    pub fail_execs: usize,
    pub fail_exec_status: u16,
}

/// State plus what never changes, shared by the server's tasks.
pub struct Shared {
    pub opts: SimOptions,
    pub addr: SocketAddr,
    state: Mutex<State>,
    /// Woken on every change, for watches.
    pub changed: tokio::sync::Notify,
    pub open_execs: AtomicUsize,
}

/// The node every pod is scheduled to.
pub const NODE_NAME: &str = "sim-node";

impl Shared {
    pub fn new(opts: SimOptions, addr: SocketAddr) -> Shared {
        let mut state = State {
            rv: 100,
            objects: BTreeMap::new(),
            history: Vec::new(),
            requests: Vec::new(),
            execs: Vec::new(),
            readiness: Readiness::After(std::time::Duration::from_millis(200)),
            fail_execs: 0,
            fail_exec_status: 500,
        };
        let mut namespaces = vec!["default", "kube-system", "kube-public"];
        if !namespaces.contains(&opts.namespace.as_str()) {
            namespaces.push(opts.namespace.as_str());
        }
        for ns in namespaces {
            let obj = json!({
                "kind": "Namespace",
                "apiVersion": "v1",
                "metadata": {
                    "name": ns,
                    "labels": {"kubernetes.io/metadata.name": ns},
                },
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            });
            state.insert_new("namespaces", "", obj);
        }
        Shared {
            opts,
            addr,
            state: Mutex::new(state),
            changed: tokio::sync::Notify::new(),
            open_execs: AtomicUsize::new(0),
        }
    }

    /// The state; a panic elsewhere while holding it does not make it
    /// unusable for the test's later assertions.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl State {
    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    pub fn get(&self, plural: &'static str, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&Key {
            plural,
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }

    /// Stores a new object: fills `uid`, `resourceVersion`,
    /// `creationTimestamp` (and `namespace`), records `ADDED`; returns it.
    pub fn insert_new(&mut self, plural: &'static str, namespace: &str, mut obj: Value) -> Value {
        let rv = self.next_rv();
        let meta = meta_mut(&mut obj);
        if !namespace.is_empty() {
            meta.insert("namespace".into(), json!(namespace));
        }
        meta.insert("uid".into(), json!(new_uid()));
        meta.insert("resourceVersion".into(), json!(rv.to_string()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.objects.insert(
            Key {
                plural,
                namespace: namespace.to_string(),
                name,
            },
            obj.clone(),
        );
        self.history.push(Change {
            rv,
            plural,
            namespace: namespace.to_string(),
            kind: "ADDED",
            object: obj.clone(),
            previous: None,
        });
        obj
    }

    /// Replaces a stored object (same key) with a new `resourceVersion`,
    /// records `MODIFIED`; a no-op (same rv) when nothing changed.
    pub fn replace(&mut self, plural: &'static str, namespace: &str, mut obj: Value) -> Value {
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let key = Key {
            plural,
            namespace: namespace.to_string(),
            name,
        };
        let previous = self.objects.get(&key).cloned();
        if let Some(prev) = &previous {
            let mut probe = obj.clone();
            meta_mut(&mut probe).insert(
                "resourceVersion".into(),
                prev["metadata"]["resourceVersion"].clone(),
            );
            if &probe == prev {
                return prev.clone();
            }
        }
        let rv = self.next_rv();
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.objects.insert(key, obj.clone());
        self.history.push(Change {
            rv,
            plural,
            namespace: namespace.to_string(),
            kind: "MODIFIED",
            object: obj.clone(),
            previous,
        });
        obj
    }

    /// Removes a stored object, records `DELETED` (with the deletion's
    /// `resourceVersion`); returns it as it was last.
    pub fn remove(&mut self, plural: &'static str, namespace: &str, name: &str) -> Option<Value> {
        let mut obj = self.objects.remove(&Key {
            plural,
            namespace: namespace.to_string(),
            name: name.to_string(),
        })?;
        let rv = self.next_rv();
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.history.push(Change {
            rv,
            plural,
            namespace: namespace.to_string(),
            kind: "DELETED",
            object: obj.clone(),
            previous: None,
        });
        Some(obj)
    }

    /// Objects of one resource in one namespace (`None`: all), by name.
    pub fn list(&self, plural: &'static str, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, _)| k.plural == plural && namespace.is_none_or(|ns| k.namespace == ns))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The objects tests ask for by plural name.
    pub fn objects_of(&self, plural: &str) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, _)| k.plural == plural)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Records a core/v1 event about a stored `object` (its `kind` names it).
    pub fn record_event(
        &mut self,
        object: &Value,
        event_type: &str,
        reason: &str,
        message: &str,
        component: &str,
        field_path: Option<&str>,
    ) {
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        let api_version = object["apiVersion"].as_str().unwrap_or("v1");
        // Real event names are `<object>.<hex nanoseconds>`.
        let event_name = format!("{name}.{:x}", unique_nanos());
        let now = now_rfc3339();
        let mut involved = json!({
            "kind": object["kind"],
            "namespace": namespace,
            "name": name,
            "uid": object["metadata"]["uid"],
            "apiVersion": api_version,
            "resourceVersion": object["metadata"]["resourceVersion"],
        });
        if let Some(fp) = field_path {
            involved["fieldPath"] = json!(fp);
        }
        let mut source = json!({"component": component});
        if component == "kubelet" {
            source["host"] = json!(NODE_NAME);
        }
        let event = json!({
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {"name": event_name},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": event_type,
            "eventTime": null,
            "reportingComponent": component,
            "reportingInstance": if component == "kubelet" { NODE_NAME } else { "" },
        });
        self.insert_new("events", &namespace, event);
    }
}

/// `metadata` of an object as a map (created if missing).
pub fn meta_mut(obj: &mut Value) -> &mut serde_json::Map<String, Value> {
    if !obj.is_object() {
        *obj = json!({});
    }
    let map = obj.as_object_mut().expect("object");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("object")
}

/// An RFC 4122 version 4 UUID, as API servers assign to `metadata.uid`.
pub fn new_uid() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The alphabet Kubernetes uses for generated name suffixes and
/// pod-template hashes (no vowels, no look-alike digits).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` random characters as `generateName` appends.
pub fn random_suffix(n: usize) -> String {
    (0..n)
        .map(|_| SAFE_ALPHABET[rand::random_range(0..SAFE_ALPHABET.len())] as char)
        .collect()
}

/// A stable 10-character hash of `value` in the same alphabet, as the
/// deployment controller's `pod-template-hash`.
pub fn safe_hash(value: &Value) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(value.to_string().as_bytes());
    digest
        .iter()
        .take(10)
        .map(|b| SAFE_ALPHABET[*b as usize % SAFE_ALPHABET.len()] as char)
        .collect()
}

fn unique_nanos() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static BUMP: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    now + BUMP.fetch_add(1, Ordering::Relaxed) as u128
}

/// The current UTC time as `2026-11-27T05:50:11Z`.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339(secs)
}

/// Seconds since the epoch as an RFC 3339 UTC timestamp (civil-from-days,
/// after Howard Hinnant's date algorithms).
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
