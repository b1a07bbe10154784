//! Validation and defaulting on create and update, for the fields a driver
//! sets: names, labels and annotations, workload selectors and templates,
//! containers, resource quantities, ConfigMap keys, PVC requests. Messages
//! follow the API server's wording so a driver test can match on them.

use serde_json::{json, Value};

use super::store::ResourceType;

/// One failed field of a 422 `Invalid`.
#[derive(Debug, Clone)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, …
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

fn required(field: impl Into<String>) -> Cause {
    Cause {
        reason: "FieldValueRequired",
        message: "Required value".into(),
        field: field.into(),
    }
}

fn invalid(field: impl Into<String>, value: &str, why: &str) -> Cause {
    Cause {
        reason: "FieldValueInvalid",
        message: format!("Invalid value: \"{value}\": {why}"),
        field: field.into(),
    }
}

const SUBDOMAIN_WHY: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_WHY: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_WHY: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE_WHY: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_qualified_part(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric()
}

/// Label and annotation keys: `[prefix/]name`.
fn key_causes(field: &str, key: &str) -> Vec<Cause> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let mut out = Vec::new();
    if let Some(p) = prefix {
        if !is_dns_subdomain(p) {
            out.push(invalid(field, key, &format!("prefix part {SUBDOMAIN_WHY}")));
        }
    }
    if !is_qualified_part(name) {
        out.push(invalid(field, key, QUALIFIED_WHY));
    }
    out
}

fn map_causes(obj: &Value, path: &str, field: &str, values_are_labels: bool) -> Vec<Cause> {
    let mut out = Vec::new();
    let Some(m) = obj.pointer(path).and_then(Value::as_object) else {
        return out;
    };
    for (k, v) in m {
        out.extend(key_causes(field, k));
        let Some(v) = v.as_str() else {
            continue;
        };
        if values_are_labels && !(v.is_empty() || is_qualified_part(v)) {
            out.push(Cause {
                reason: "FieldValueInvalid",
                message: format!("Invalid value: \"{v}\": {LABEL_VALUE_WHY}"),
                field: field.to_string(),
            });
        }
    }
    out
}

/// Fails like the API server's decoder (400, before validation): quantities
/// that do not parse, and values of the wrong JSON type in the fields the
/// simulator reads.
pub fn decode(rt: &ResourceType, obj: &Value) -> Result<(), String> {
    let bad_quantity = |q: &Value| -> bool {
        match q {
            Value::String(s) => !is_quantity(s),
            Value::Number(_) => false,
            _ => true,
        }
    };
    let prefix = format!(
        "{} in version \"{}\" cannot be handled as a {}: ",
        rt.kind, rt.version, rt.kind
    );
    let quantity_error = format!(
        "{prefix}quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
    );
    for spec in pod_specs(rt, obj) {
        for c in containers(spec) {
            for kind in ["requests", "limits"] {
                if let Some(m) = c["resources"][kind].as_object() {
                    if m.values().any(bad_quantity) {
                        return Err(quantity_error);
                    }
                }
            }
        }
    }
    let mut claims = Vec::new();
    if rt.plural == "persistentvolumeclaims" {
        claims.push(&obj["spec"]);
    }
    if let Some(tpls) = obj["spec"]["volumeClaimTemplates"].as_array() {
        claims.extend(tpls.iter().map(|t| &t["spec"]));
    }
    for spec in claims {
        if let Some(m) = spec["resources"]["requests"].as_object() {
            if m.values().any(bad_quantity) {
                return Err(quantity_error);
            }
        }
    }
    if let Some(r) = obj["spec"].get("replicas") {
        if !r.is_null() && !r.is_i64() {
            return Err(format!(
                "{prefix}json: cannot unmarshal {} into Go struct field {}Spec.spec.replicas of type int32",
                json_type(r),
                rt.kind
            ));
        }
    }
    Ok(())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// Kubernetes quantity syntax: a decimal number and an optional suffix
/// (`100m`, `1.5Gi`, `2e3`, `512M`).
pub fn is_quantity(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, suffix) = s.split_at(digits_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return false;
    }
    matches!(
        suffix,
        "" | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
            | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
    ) || (suffix.starts_with(['e', 'E'])
        && suffix[1..]
            .strip_prefix(['+', '-'])
            .unwrap_or(&suffix[1..])
            .bytes()
            .all(|b| b.is_ascii_digit())
        && suffix.len() > 1)
}

/// The pod specs inside an object (a pod's own, a workload's template).
fn pod_specs<'a>(rt: &ResourceType, obj: &'a Value) -> Vec<&'a Value> {
    match rt.plural {
        "pods" => vec![&obj["spec"]],
        "deployments" | "statefulsets" | "replicasets" => vec![&obj["spec"]["template"]["spec"]],
        _ => Vec::new(),
    }
}

fn containers(spec: &Value) -> Vec<&Value> {
    let mut out: Vec<&Value> = Vec::new();
    for k in ["initContainers", "containers"] {
        if let Some(a) = spec[k].as_array() {
            out.extend(a.iter());
        }
    }
    out
}

/// The 422 causes for an object about to be stored (empty: valid).
pub fn object(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        out.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value: name or generateName is required".into(),
            field: "metadata.name".into(),
        });
    } else {
        // Pods, deployments and statefulsets name DNS hosts or pods, so
        // their names must be DNS labels / subdomains.
        let ok = match rt.plural {
            "namespaces" => is_dns_label(name),
            _ => is_dns_subdomain(name),
        };
        if !ok {
            let why = if rt.plural == "namespaces" {
                LABEL_WHY
            } else {
                SUBDOMAIN_WHY
            };
            out.push(invalid("metadata.name", name, why));
        }
    }
    out.extend(map_causes(obj, "/metadata/labels", "metadata.labels", true));
    out.extend(map_causes(
        obj,
        "/metadata/annotations",
        "metadata.annotations",
        false,
    ));

    if matches!(rt.plural, "deployments" | "statefulsets" | "replicasets") {
        out.extend(workload(rt, obj));
    }
    for (i, spec) in pod_specs(rt, obj).into_iter().enumerate() {
        let base = if rt.plural == "pods" {
            "spec".to_string()
        } else {
            "spec.template.spec".to_string()
        };
        let _ = i;
        out.extend(pod_spec(&base, spec));
    }
    match rt.plural {
        "configmaps" => {
            for section in ["data", "binaryData"] {
                if let Some(m) = obj[section].as_object() {
                    for k in m.keys() {
                        let ok = !k.is_empty()
                            && k.len() <= 253
                            && k.bytes().all(|b| {
                                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
                            });
                        if !ok {
                            out.push(invalid(
                                format!("{section}[{k}]"),
                                k,
                                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
                            ));
                        }
                    }
                }
            }
        }
        "persistentvolumeclaims" => out.extend(claim_spec("spec", &obj["spec"])),
        _ => {}
    }
    out
}

fn claim_spec(base: &str, spec: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    if spec["accessModes"].as_array().is_none_or(|a| a.is_empty()) {
        out.push(Cause {
            reason: "FieldValueRequired",
            message: "Required value: at least 1 access mode is required".into(),
            field: format!("{base}.accessModes"),
        });
    }
    if spec["resources"]["requests"]["storage"].is_null() {
        out.push(required(format!("{base}.resources[storage]")));
    }
    out
}

fn workload(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let spec = &obj["spec"];
    let selector = &spec["selector"];
    let has_selector = selector["matchLabels"]
        .as_object()
        .is_some_and(|m| !m.is_empty())
        || selector["matchExpressions"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
    if !has_selector {
        out.push(required("spec.selector"));
    } else {
        let sel = super::selector::LabelSelector::from_label_selector_object(selector);
        let labels = &spec["template"]["metadata"]["labels"];
        if !sel.matches_labels(labels) {
            let shown = labels
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k:?}:{}", v))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            out.push(Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: map[string]string{{{shown}}}: `selector` does not match template `labels`"
                ),
                field: "spec.template.metadata.labels".into(),
            });
        }
    }
    if let Some(r) = spec["replicas"].as_i64() {
        if r < 0 {
            out.push(Cause {
                reason: "FieldValueInvalid",
                message: format!("Invalid value: {r}: must be greater than or equal to 0"),
                field: "spec.replicas".into(),
            });
        }
    }
    if spec["template"].is_null() {
        out.push(required("spec.template"));
    }
    out.extend(map_causes(
        obj,
        "/spec/template/metadata/labels",
        "spec.template.metadata.labels",
        true,
    ));
    out.extend(map_causes(
        obj,
        "/spec/template/metadata/annotations",
        "spec.template.metadata.annotations",
        false,
    ));
    if rt.plural == "statefulsets" {
        if let Some(tpls) = spec["volumeClaimTemplates"].as_array() {
            for (i, t) in tpls.iter().enumerate() {
                out.extend(claim_spec(
                    &format!("spec.volumeClaimTemplates[{i}].spec"),
                    &t["spec"],
                ));
            }
        }
        if let Some(p) = spec["podManagementPolicy"].as_str() {
            if !matches!(p, "OrderedReady" | "Parallel") {
                out.push(Cause {
                    reason: "FieldValueNotSupported",
                    message: format!("Unsupported value: \"{p}\": supported values: \"OrderedReady\", \"Parallel\""),
                    field: "spec.podManagementPolicy".into(),
                });
            }
        }
    }
    out
}

fn pod_spec(base: &str, spec: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let cs = spec["containers"].as_array().cloned().unwrap_or_default();
    if cs.is_empty() {
        out.push(required(format!("{base}.containers")));
    }
    let mut seen = Vec::new();
    for (i, c) in cs.iter().enumerate() {
        let field = format!("{base}.containers[{i}]");
        match c["name"].as_str() {
            None | Some("") => out.push(required(format!("{field}.name"))),
            Some(n) if !is_dns_label(n) => out.push(invalid(format!("{field}.name"), n, LABEL_WHY)),
            Some(n) if seen.contains(&n.to_string()) => out.push(Cause {
                reason: "FieldValueDuplicate",
                message: format!("Duplicate value: \"{n}\""),
                field: format!("{field}.name"),
            }),
            Some(n) => seen.push(n.to_string()),
        }
        if c["image"].as_str().is_none_or(|s| s.trim().is_empty()) {
            out.push(required(format!("{field}.image")));
        }
        if let Some(envs) = c["env"].as_array() {
            for (j, e) in envs.iter().enumerate() {
                if e["name"].as_str().is_none_or(str::is_empty) {
                    out.push(required(format!("{field}.env[{j}].name")));
                }
            }
        }
    }
    if let Some(tols) = spec["tolerations"].as_array() {
        for (i, t) in tols.iter().enumerate() {
            if let Some(op) = t["operator"].as_str() {
                if !matches!(op, "Equal" | "Exists") {
                    out.push(Cause {
                        reason: "FieldValueNotSupported",
                        message: format!(
                            "Unsupported value: \"{op}\": supported values: \"Equal\", \"Exists\""
                        ),
                        field: format!("{base}.tolerations[{i}].operator"),
                    });
                }
            }
            if let Some(e) = t["effect"].as_str() {
                if !matches!(e, "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
                    out.push(Cause {
                        reason: "FieldValueNotSupported",
                        message: format!("Unsupported value: \"{e}\": supported values: \"NoSchedule\", \"PreferNoSchedule\", \"NoExecute\""),
                        field: format!("{base}.tolerations[{i}].effect"),
                    });
                }
            }
        }
    }
    out
}

/// Pod spec defaults the API server fills in.
pub fn pod_spec_defaults(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    let defaults = [
        ("restartPolicy", json!("Always")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("dnsPolicy", json!("ClusterFirst")),
        ("securityContext", json!({})),
        ("schedulerName", json!("default-scheduler")),
    ];
    for (k, v) in defaults {
        if spec[k].is_null() {
            spec[k] = v;
        }
    }
    for key in ["initContainers", "containers"] {
        if let Some(cs) = spec[key].as_array_mut() {
            for c in cs {
                if c["terminationMessagePath"].is_null() {
                    c["terminationMessagePath"] = json!("/dev/termination-log");
                }
                if c["terminationMessagePolicy"].is_null() {
                    c["terminationMessagePolicy"] = json!("File");
                }
                if c["resources"].is_null() {
                    c["resources"] = json!({});
                }
                if c["imagePullPolicy"].is_null() {
                    let image = c["image"].as_str().unwrap_or_default();
                    let last = image.rsplit('/').next().unwrap_or_default();
                    let tag = last.split_once(':').map(|(_, t)| t);
                    let always = !image.contains('@') && matches!(tag, None | Some("latest"));
                    c["imagePullPolicy"] = json!(if always { "Always" } else { "IfNotPresent" });
                }
            }
        }
    }
}

/// Spec defaults of the workload kinds.
pub fn apply_defaults(rt: &ResourceType, obj: &mut Value) {
    match rt.plural {
        "deployments" => {
            let spec = &mut obj["spec"];
            if spec["replicas"].is_null() {
                spec["replicas"] = json!(1);
            }
            if spec["revisionHistoryLimit"].is_null() {
                spec["revisionHistoryLimit"] = json!(10);
            }
            if spec["progressDeadlineSeconds"].is_null() {
                spec["progressDeadlineSeconds"] = json!(600);
            }
            if spec["strategy"].is_null() {
                spec["strategy"] = json!({
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
                });
            }
            pod_spec_defaults(&mut spec["template"]["spec"]);
        }
        "statefulsets" => {
            let spec = &mut obj["spec"];
            let defaults = [
                ("replicas", json!(1)),
                ("podManagementPolicy", json!("OrderedReady")),
                (
                    "updateStrategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                ),
                ("revisionHistoryLimit", json!(10)),
                (
                    "persistentVolumeClaimRetentionPolicy",
                    json!({"whenDeleted": "Retain", "whenScaled": "Retain"}),
                ),
            ];
            for (k, v) in defaults {
                if spec[k].is_null() {
                    spec[k] = v;
                }
            }
            if let Some(tpls) = spec["volumeClaimTemplates"].as_array_mut() {
                for t in tpls {
                    if t["apiVersion"].is_null() {
                        t["apiVersion"] = json!("v1");
                        t["kind"] = json!("PersistentVolumeClaim");
                    }
                    if t["spec"]["volumeMode"].is_null() {
                        t["spec"]["volumeMode"] = json!("Filesystem");
                    }
                    if t["status"].is_null() {
                        t["status"] = json!({"phase": "Pending"});
                    }
                }
            }
            pod_spec_defaults(&mut spec["template"]["spec"]);
        }
        "replicasets" => pod_spec_defaults(&mut obj["spec"]["template"]["spec"]),
        "pods" => {
            pod_spec_defaults(&mut obj["spec"]);
            if obj["spec"]["serviceAccountName"].is_null() {
                obj["spec"]["serviceAccountName"] = json!("default");
            }
        }
        _ => {}
    }
}

/// The status an object starts with: what the client sent is dropped, as
/// the API server does for kinds with a status subresource.
pub fn initial_status(rt: &ResourceType, obj: &mut Value) {
    match rt.plural {
        "deployments" => obj["status"] = json!({}),
        "statefulsets" => obj["status"] = json!({"replicas": 0, "availableReplicas": 0}),
        "replicasets" => obj["status"] = json!({"replicas": 0}),
        "pods" => {
            let qos = super::controllers::qos_class(&obj["spec"]);
            obj["status"] = json!({"phase": "Pending", "qosClass": qos});
        }
        "persistentvolumeclaims" => obj["status"] = json!({"phase": "Pending"}),
        "namespaces" => {
            obj["status"] = json!({"phase": "Active"});
            let name = obj["metadata"]["name"].clone();
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        }
        _ => {}
    }
}

/// What an update may not change: a workload's selector, a StatefulSet's
/// spec outside the fields the API server lets change, the data of an
/// immutable ConfigMap.
pub fn update(rt: &ResourceType, current: &Value, next: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    match rt.plural {
        "deployments" | "replicasets"
            if current["spec"]["selector"] != next["spec"]["selector"] =>
        {
            out.push(Cause {
                reason: "FieldValueInvalid",
                message: format!(
                    "Invalid value: {}: field is immutable",
                    next["spec"]["selector"]
                ),
                field: "spec.selector".into(),
            });
        }
        "statefulsets" => {
            let mutable = [
                "replicas",
                "ordinals",
                "template",
                "updateStrategy",
                "persistentVolumeClaimRetentionPolicy",
                "minReadySeconds",
            ];
            let strip = |spec: &Value| {
                let mut s = spec.clone();
                if let Some(m) = s.as_object_mut() {
                    for k in mutable {
                        m.remove(k);
                    }
                }
                s
            };
            if strip(&current["spec"]) != strip(&next["spec"]) {
                out.push(Cause {
                    reason: "FieldValueForbidden",
                    message: "Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden".into(),
                    field: "spec".into(),
                });
            }
        }
        "configmaps" if current["immutable"] == json!(true) => {
            for section in ["data", "binaryData"] {
                if current[section] != next[section] {
                    out.push(Cause {
                        reason: "FieldValueForbidden",
                        message: "Forbidden: field is immutable when `immutable` is set".into(),
                        field: section.into(),
                    });
                }
            }
        }
        _ => {}
    }
    out
}
