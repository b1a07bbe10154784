//! The driver options and the objects made from them, as buildx's
//! `driver/kubernetes/factory.go` (`processDriverOpts`, with its error
//! texts) and `manifest/manifest.go` (`NewDeployment`): one Deployment — or
//! a StatefulSet with a volume claim when
//! `persistent-volume-claim.requests.storage` is set — named after the node,
//! container `buildkitd`, and one ConfigMap per directory of config files.
//!
//! Where buildx has a bug we do the intended thing and say so in
//! `docs/kubernetes.md`: `requests.ephemeral-storage` goes to the requests
//! (buildx puts it in the limits), and a StatefulSet keeps the config
//! volume mount (buildx replaces the mounts with the claim's).

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::{json, Map, Value};

use crate::options::{parse_bool, parse_go_duration, parse_int32};

/// buildx's default BuildKit image.
pub const DEFAULT_IMAGE: &str = "moby/buildkit:buildx-stable-1";
/// buildx's default image with `rootless=true`.
pub const DEFAULT_ROOTLESS_IMAGE: &str = "moby/buildkit:buildx-stable-1-rootless";
/// buildx's binfmt image for `qemu.install=true`.
pub const QEMU_IMAGE: &str = "tonistiigi/binfmt:latest";
/// The pod annotation that carries the node's pinned platforms.
pub const ANNOTATION_PLATFORM: &str = "buildx.docker.com/platform";
/// The label that selects the builder's pods (value: the workload name).
pub const LABEL_APP: &str = "app";
/// The container BuildKit runs in.
pub const CONTAINER: &str = "buildkitd";
/// buildx's default bootstrap timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

const PVC_NAME: &str = "buildkitd";
const ROOT_VOLUME: &str = "buildkit-memory";
const ROOT_PATH: &str = "/var/lib/buildkit";

/// How a connection picks one of the running pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadBalance {
    /// Consistent hash of the build context path over the running pods.
    Sticky,
    /// Any running pod.
    Random,
}

/// A toleration as buildx parses it (`key=k,operator=Equal,value=v,effect=NoSchedule`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Toleration {
    pub key: Option<String>,
    pub operator: Option<String>,
    pub value: Option<String>,
    pub effect: Option<String>,
    pub toleration_seconds: Option<i64>,
}

/// Everything the driver options say, with buildx's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The workload name: the node name with `_` turned into `-`.
    pub name: String,
    /// `namespace=`, overriding the kubeconfig's.
    pub namespace: Option<String>,
    pub image: String,
    pub replicas: i32,
    pub service_account: Option<String>,
    pub scheduler_name: Option<String>,
    pub qemu_install: bool,
    pub qemu_image: String,
    pub buildkitd_flags: Vec<String>,
    /// Files of the node (`buildkitd.toml`), mounted under `/etc/buildkit`.
    pub config_files: BTreeMap<String, Vec<u8>>,
    pub root_volume_memory: Option<String>,
    pub rootless: bool,
    pub node_selector: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    /// `None`: the option was not given; `Some(vec![])` cannot happen
    /// (buildx always yields at least one entry).
    pub tolerations: Option<Vec<Toleration>>,
    pub requests: BTreeMap<&'static str, String>,
    pub limits: BTreeMap<&'static str, String>,
    pub persistent_storage: Option<String>,
    /// Platforms pinned on the node, formatted (`linux/arm64`).
    pub platforms: Vec<String>,
    pub env: Vec<(String, String)>,
    pub load_balance: LoadBalance,
    pub default_load: bool,
    pub timeout: Duration,
}

impl Options {
    /// Reads the driver options of node `node` (buildx's `processDriverOpts`;
    /// the messages are buildx's).
    pub fn from_driver_opts(
        node: &str,
        opts: &BTreeMap<String, String>,
        buildkitd_flags: &[String],
        config_files: Option<&BTreeMap<String, Vec<u8>>>,
        platforms: &[String],
    ) -> Result<Options, String> {
        let mut o = Options {
            name: deployment_name(node),
            namespace: None,
            image: DEFAULT_IMAGE.into(),
            replicas: 1,
            service_account: None,
            scheduler_name: None,
            qemu_install: false,
            qemu_image: QEMU_IMAGE.into(),
            buildkitd_flags: buildkitd_flags.to_vec(),
            config_files: config_files.cloned().unwrap_or_default(),
            root_volume_memory: None,
            rootless: false,
            node_selector: BTreeMap::new(),
            annotations: BTreeMap::new(),
            labels: BTreeMap::new(),
            tolerations: None,
            requests: BTreeMap::new(),
            limits: BTreeMap::new(),
            persistent_storage: None,
            platforms: platforms.to_vec(),
            env: Vec::new(),
            load_balance: LoadBalance::Sticky,
            default_load: false,
            timeout: DEFAULT_TIMEOUT,
        };
        for (k, v) in opts {
            if let Some((limits, resource)) = resource_option(k) {
                let list = if limits {
                    &mut o.limits
                } else {
                    &mut o.requests
                };
                list.insert(resource, quantity(v)?);
                continue;
            }
            match k.as_str() {
                "image" => {
                    if !v.is_empty() {
                        o.image = v.clone()
                    }
                }
                "namespace" => o.namespace = Some(v.clone()),
                "replicas" => o.replicas = parse_int32(v)?,
                "persistent-volume-claim.requests.storage" => {
                    o.persistent_storage = Some(quantity(v)?)
                }
                "rootless" => {
                    o.rootless = parse_bool(v)?;
                    if !opts.contains_key("image") {
                        o.image = DEFAULT_ROOTLESS_IMAGE.into();
                    }
                }
                "schedulername" => o.scheduler_name = Some(v.clone()),
                "serviceaccount" => o.service_account = Some(v.clone()),
                "nodeselector" => {
                    o.node_selector = split_multi_values(v)
                        .map_err(|e| format!("cannot parse node selector: {e}"))?
                }
                "annotations" => {
                    o.annotations = split_multi_values(v)
                        .map_err(|e| format!("cannot parse annotations: {e}"))?
                }
                "labels" => {
                    o.labels =
                        split_multi_values(v).map_err(|e| format!("cannot parse labels: {e}"))?
                }
                "tolerations" => o.tolerations = Some(parse_tolerations(v)?),
                "loadbalance" => {
                    o.load_balance = match v.as_str() {
                        "sticky" => LoadBalance::Sticky,
                        "random" => LoadBalance::Random,
                        _ => return Err(format!("invalid loadbalance {v:?}")),
                    }
                }
                "qemu.install" => o.qemu_install = parse_bool(v)?,
                "qemu.image" => {
                    if !v.is_empty() {
                        o.qemu_image = v.clone()
                    }
                }
                "buildkit-root-volume-memory" => {
                    if !v.is_empty() {
                        o.root_volume_memory = Some(quantity(v)?)
                    }
                }
                "default-load" => o.default_load = parse_bool(v)?,
                "timeout" => {
                    o.timeout =
                        parse_go_duration(v).map_err(|e| format!("cannot parse timeout: {e}"))?
                }
                _ => match k.strip_prefix("env.") {
                    Some("") => {
                        return Err(format!("invalid env option {k:?}, expecting env.FOO=bar"))
                    }
                    Some(name) => o.env.push((name.to_string(), v.clone())),
                    None => return Err(format!("invalid driver option {k} for driver kubernetes")),
                },
            }
        }
        if o.annotations.contains_key(ANNOTATION_PLATFORM) {
            return Err(format!(
                "the annotation {ANNOTATION_PLATFORM:?} is reserved and cannot be customized"
            ));
        }
        if o.labels.contains_key(LABEL_APP) {
            return Err(format!(
                "the label {LABEL_APP:?} is reserved and cannot be customized"
            ));
        }
        Ok(o)
    }

    /// The labels every object and pod carries (`app=<name>` + `labels=`).
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        l.insert(LABEL_APP.into(), self.name.clone());
        l
    }

    /// `app=<name>,k=v…`, the label selector of the builder's pods.
    pub fn label_selector(&self) -> String {
        self.pod_labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The annotations of the objects and pods: platforms, `annotations=`,
    /// and for rootless the AppArmor one (buildx shares one map between all
    /// of them, so every object carries it).
    fn all_annotations(&self) -> BTreeMap<String, String> {
        let mut a = self.annotations.clone();
        if !self.platforms.is_empty() {
            a.insert(ANNOTATION_PLATFORM.into(), self.platforms.join(","));
        }
        if self.rootless {
            a.insert(
                format!("container.apparmor.security.beta.kubernetes.io/{CONTAINER}"),
                "unconfined".into(),
            );
        }
        a
    }

    /// The objects to create: a Deployment or a StatefulSet, and ConfigMaps.
    pub fn objects(&self) -> Result<Objects, String> {
        let labels = self.pod_labels();
        let annotations = self.all_annotations();
        let mut meta = json!({ "name": self.name, "labels": labels });
        if !annotations.is_empty() {
            meta["annotations"] = json!(annotations);
        }

        let probe = json!({
            "exec": { "command": ["buildctl", "debug", "workers"] },
            "failureThreshold": 3,
            "initialDelaySeconds": 5,
            "periodSeconds": 30,
            "successThreshold": 1,
            "timeoutSeconds": 60,
        });
        let mut args = self.buildkitd_flags.clone();
        let security = if self.rootless {
            args.push("--oci-worker-no-process-sandbox".into());
            json!({ "seccompProfile": { "type": "Unconfined" } })
        } else {
            json!({ "privileged": true })
        };
        let mut container = json!({
            "name": CONTAINER,
            "image": self.image,
            "securityContext": security,
            "readinessProbe": probe,
            "livenessProbe": probe,
        });
        if !args.is_empty() {
            container["args"] = json!(args);
        }
        let mut resources = Map::new();
        if !self.requests.is_empty() {
            resources.insert("requests".into(), json!(self.requests));
        }
        if !self.limits.is_empty() {
            resources.insert("limits".into(), json!(self.limits));
        }
        container["resources"] = Value::Object(resources);

        let mut mounts: Vec<Value> = Vec::new();
        let mut volumes: Vec<Value> = Vec::new();
        let mut config_maps = Vec::new();
        for cfg in split_config_files(&self.config_files) {
            let cm_name = format!("{}-{}", self.name, cfg.name);
            let mut cm_meta = json!({ "name": cm_name });
            if !annotations.is_empty() {
                cm_meta["annotations"] = json!(annotations);
            }
            config_maps.push(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": cm_meta,
                "data": cfg.files,
            }));
            let path = if cfg.dir == "." {
                "/etc/buildkit".to_string()
            } else {
                format!("/etc/buildkit/{}", cfg.dir)
            };
            mounts.push(json!({ "name": cfg.name, "mountPath": path }));
            volumes.push(json!({ "name": cfg.name, "configMap": { "name": cm_name } }));
        }
        if self.rootless {
            // buildkitd's default VOLUME is mounted nosuid,nodev on some
            // nodes; an emptyDir works everywhere (buildx's reasoning).
            mounts
                .push(json!({ "name": PVC_NAME, "mountPath": "/home/user/.local/share/buildkit" }));
            let mut empty_dir = json!({});
            if let Some(mem) = &self.root_volume_memory {
                empty_dir = json!({ "medium": "Memory", "sizeLimit": mem });
            }
            volumes.push(json!({ "name": PVC_NAME, "emptyDir": empty_dir }));
        } else if let Some(mem) = &self.root_volume_memory {
            volumes.push(json!({
                "name": ROOT_VOLUME,
                "emptyDir": { "medium": "Memory", "sizeLimit": mem },
            }));
            mounts.push(json!({ "name": ROOT_VOLUME, "mountPath": ROOT_PATH }));
        }
        if !self.env.is_empty() {
            container["env"] = self
                .env
                .iter()
                .map(|(k, v)| json!({ "name": k, "value": v }))
                .collect();
        }
        if self.persistent_storage.is_some() && !self.rootless {
            mounts.push(json!({ "name": PVC_NAME, "readOnly": false, "mountPath": ROOT_PATH }));
        }
        if !mounts.is_empty() {
            container["volumeMounts"] = Value::Array(mounts);
        }

        let mut pod_spec = json!({ "containers": [container] });
        if let Some(sa) = &self.service_account {
            pod_spec["serviceAccountName"] = json!(sa);
        }
        if let Some(s) = &self.scheduler_name {
            pod_spec["schedulerName"] = json!(s);
        }
        if !volumes.is_empty() {
            pod_spec["volumes"] = Value::Array(volumes);
        }
        if self.qemu_install {
            pod_spec["initContainers"] = json!([{
                "name": "qemu",
                "image": self.qemu_image,
                "args": ["--install", "all"],
                "securityContext": { "privileged": true },
            }]);
        }
        if !self.node_selector.is_empty() {
            pod_spec["nodeSelector"] = json!(self.node_selector);
        }
        if let Some(ts) = &self.tolerations {
            pod_spec["tolerations"] = ts.iter().map(toleration_json).collect();
        }
        let mut template_meta = json!({ "labels": labels });
        if !annotations.is_empty() {
            template_meta["annotations"] = json!(annotations);
        }
        let template = json!({ "metadata": template_meta, "spec": pod_spec });
        let selector = json!({ "matchLabels": labels });

        let bad = |what: &str, e: serde_json::Error| format!("cannot build the {what}: {e}");
        let mut out = Objects {
            deployment: None,
            stateful_set: None,
            config_maps: Vec::new(),
        };
        for cm in config_maps {
            out.config_maps
                .push(serde_json::from_value::<ConfigMap>(cm).map_err(|e| bad("ConfigMap", e))?);
        }
        if let Some(storage) = &self.persistent_storage {
            let s = json!({
                "apiVersion": "apps/v1",
                "kind": "StatefulSet",
                "metadata": meta,
                "spec": {
                    "serviceName": "buildkitd",
                    "podManagementPolicy": "Parallel",
                    "replicas": self.replicas,
                    "selector": selector,
                    "template": template,
                    "volumeClaimTemplates": [{
                        "metadata": { "name": PVC_NAME },
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": { "requests": { "storage": storage } },
                        },
                    }],
                },
            });
            out.stateful_set = Some(serde_json::from_value(s).map_err(|e| bad("StatefulSet", e))?);
        } else {
            let d = json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": meta,
                "spec": {
                    "replicas": self.replicas,
                    "selector": selector,
                    "template": template,
                },
            });
            out.deployment = Some(serde_json::from_value(d).map_err(|e| bad("Deployment", e))?);
        }
        Ok(out)
    }
}

/// The objects of one builder node.
#[derive(Debug, Clone)]
pub struct Objects {
    pub deployment: Option<Deployment>,
    pub stateful_set: Option<StatefulSet>,
    pub config_maps: Vec<ConfigMap>,
}

/// buildx's `buildxNameToDeploymentName`: the node name, `_` → `-`.
pub fn deployment_name(node: &str) -> String {
    node.strip_prefix("buildx_buildkit_")
        .unwrap_or(node)
        .replace('_', "-")
}

fn toleration_json(t: &Toleration) -> Value {
    let mut v = Map::new();
    let mut put = |k: &str, x: &Option<String>| {
        if let Some(x) = x {
            v.insert(k.into(), json!(x));
        }
    };
    put("key", &t.key);
    put("operator", &t.operator);
    put("value", &t.value);
    put("effect", &t.effect);
    if let Some(s) = t.toleration_seconds {
        v.insert("tolerationSeconds".into(), json!(s));
    }
    Value::Object(v)
}

struct ConfigDir {
    dir: String,
    name: String,
    files: BTreeMap<String, String>,
}

/// buildx's `splitConfigFiles`: one ConfigMap per directory; the top one is
/// `config`, the others `config-1`, `config-2`, … in order of appearance.
fn split_config_files(files: &BTreeMap<String, Vec<u8>>) -> Vec<ConfigDir> {
    let mut out: Vec<ConfigDir> = Vec::new();
    let mut numbered = 0;
    for (path, data) in files {
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) if !d.is_empty() => (d.to_string(), b.to_string()),
            _ => (".".to_string(), path.clone()),
        };
        let i = match out.iter().position(|c| c.dir == dir) {
            Some(i) => i,
            None => {
                let name = if dir == "." {
                    "config".to_string()
                } else {
                    numbered += 1;
                    format!("config-{numbered}")
                };
                out.push(ConfigDir {
                    dir,
                    name,
                    files: BTreeMap::new(),
                });
                out.len() - 1
            }
        };
        out[i]
            .files
            .insert(base, String::from_utf8_lossy(data).into_owned());
    }
    out
}

/// buildx's `splitMultiValues(v, ",", "=")`.
fn split_multi_values(v: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for kv in v.trim_matches('"').split(',') {
        let parts: Vec<&str> = kv.split('=').collect();
        if parts.len() != 2 {
            return Err(format!("invalid key-value pair: {kv}"));
        }
        out.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(out)
}

/// buildx's toleration syntax: `;` between tolerations, `,` between fields,
/// `=` inside a field; fields without exactly one `=` are ignored as buildx
/// ignores them.
fn parse_tolerations(v: &str) -> Result<Vec<Toleration>, String> {
    let mut out = Vec::new();
    for t in v.split(';') {
        let mut tol = Toleration::default();
        for kv in t.split(',') {
            let parts: Vec<&str> = kv.split('=').collect();
            if parts.len() != 2 {
                continue;
            }
            let val = parts[1].to_string();
            match parts[0] {
                "key" => tol.key = Some(val),
                "operator" => tol.operator = Some(val),
                "value" => tol.value = Some(val),
                "effect" => tol.effect = Some(val),
                "tolerationSeconds" => {
                    let n: i64 = val
                        .parse()
                        .map_err(|_| format!("strconv.Atoi: parsing {val:?}: invalid syntax"))?;
                    tol.toleration_seconds = Some(n)
                }
                // buildx's spelling, so the message can be searched for
                _ => return Err(format!("invalid tolaration {v:?}")),
            }
        }
        out.push(tol);
    }
    Ok(out)
}

/// `requests.R` and `limits.R` for the resources buildx sets: whether it is
/// a limit, and the resource.
fn resource_option(key: &str) -> Option<(bool, &'static str)> {
    const RESOURCES: [&str; 3] = ["cpu", "memory", "ephemeral-storage"];
    let (list, name) = key.split_once('.')?;
    let resource = RESOURCES.into_iter().find(|r| *r == name)?;
    match list {
        "requests" => Some((false, resource)),
        "limits" => Some((true, resource)),
        _ => None,
    }
}

/// A Kubernetes quantity (`500m`, `2Gi`, `1e3`), checked like
/// `resource.ParseQuantity` so a bad value fails at create time, not when
/// the API server rejects the object.
fn quantity(v: &str) -> Result<String, String> {
    let bad = || {
        "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            .to_string()
    };
    let s = v.strip_prefix(['+', '-']).unwrap_or(v);
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(num_end);
    if num.is_empty() || num.matches('.').count() > 1 || num == "." {
        return Err(bad());
    }
    const SUFFIXES: &[&str] = &[
        "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
    ];
    let exponent_ok = |e: &str| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
    };
    let ok = SUFFIXES.contains(&suffix) || suffix.strip_prefix(['e', 'E']).is_some_and(exponent_ok);
    if ok {
        Ok(v.to_string())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::driver::test_opts as opts;

    fn parse(pairs: &[(&str, &str)]) -> Result<Options, String> {
        Options::from_driver_opts("buildkit_node_0", &opts(pairs), &[], None, &[])
    }

    #[test]
    fn defaults_are_buildx_defaults() {
        let o = parse(&[]).unwrap();
        assert_eq!(o.name, "buildkit-node-0");
        assert_eq!(o.image, "moby/buildkit:buildx-stable-1");
        assert_eq!(o.replicas, 1);
        assert_eq!(o.load_balance, LoadBalance::Sticky);
        assert_eq!(o.timeout, Duration::from_secs(120));
        assert!(!o.rootless && !o.default_load);
        assert_eq!(o.label_selector(), "app=buildkit-node-0");
    }

    #[test]
    fn errors_are_buildx_wording() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("foo", "1")], "invalid driver option foo for driver kubernetes"),
            (&[("env.", "1")], "invalid env option \"env.\", expecting env.FOO=bar"),
            (&[("replicas", "two")], "strconv.ParseInt: parsing \"two\": invalid syntax"),
            (&[("rootless", "yes")], "strconv.ParseBool: parsing \"yes\": invalid syntax"),
            (&[("loadbalance", "roundrobin")], "invalid loadbalance \"roundrobin\""),
            (&[("nodeselector", "a=b,c")], "cannot parse node selector: invalid key-value pair: c"),
            (&[("labels", "app=x")], "the label \"app\" is reserved and cannot be customized"),
            (
                &[("annotations", "buildx.docker.com/platform=x")],
                "the annotation \"buildx.docker.com/platform\" is reserved and cannot be customized",
            ),
            (&[("tolerations", "key=a,colour=red")], "invalid tolaration \"key=a,colour=red\""),
            (&[("timeout", "soon")], "cannot parse timeout: time: invalid duration \"soon\""),
            (
                &[("requests.cpu", "lots")],
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
        ];
        for (pairs, msg) in cases {
            assert_eq!(parse(pairs).unwrap_err(), *msg, "{pairs:?}");
        }
    }

    #[test]
    fn quantities() {
        for ok in ["500m", "2", "1.5", "2Gi", "100Mi", "1e3", "+1k", "0.5E-2"] {
            assert!(quantity(ok).is_ok(), "{ok}");
        }
        for bad in ["", "lots", "2GB", "1..2", "Gi", "1e"] {
            assert!(quantity(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tolerations_parse_as_buildx() {
        let t = parse_tolerations(
            "key=a,operator=Equal,value=b,effect=NoSchedule;key=c,operator=Exists,tolerationSeconds=30",
        )
        .unwrap();
        assert_eq!(
            t,
            [
                Toleration {
                    key: Some("a".into()),
                    operator: Some("Equal".into()),
                    value: Some("b".into()),
                    effect: Some("NoSchedule".into()),
                    toleration_seconds: None
                },
                Toleration {
                    key: Some("c".into()),
                    operator: Some("Exists".into()),
                    toleration_seconds: Some(30),
                    ..Toleration::default()
                }
            ]
        );
    }

    #[test]
    fn every_request_and_limit_buildx_sets() {
        let o = parse(&[
            ("requests.cpu", "1"),
            ("requests.memory", "1Gi"),
            ("requests.ephemeral-storage", "2Gi"),
            ("limits.cpu", "2"),
            ("limits.memory", "3Gi"),
            ("limits.ephemeral-storage", "4Gi"),
        ])
        .unwrap();
        let map = |pairs: [(&'static str, &str); 3]| {
            pairs
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(
            o.requests,
            map([
                ("cpu", "1"),
                ("memory", "1Gi"),
                ("ephemeral-storage", "2Gi")
            ])
        );
        assert_eq!(
            o.limits,
            map([
                ("cpu", "2"),
                ("memory", "3Gi"),
                ("ephemeral-storage", "4Gi")
            ])
        );
        assert_eq!(
            parse(&[("requests.gpu", "1")]).unwrap_err(),
            "invalid driver option requests.gpu for driver kubernetes"
        );
    }

    #[test]
    fn deployment_json_for_plain_options() {
        let o = parse(&[
            ("replicas", "2"),
            ("requests.cpu", "500m"),
            ("limits.memory", "2Gi"),
        ])
        .unwrap();
        let objs = o.objects().unwrap();
        assert!(objs.stateful_set.is_none() && objs.config_maps.is_empty());
        let d = serde_json::to_value(objs.deployment.unwrap()).unwrap();
        assert_eq!(d["kind"], "Deployment");
        assert_eq!(d["metadata"]["name"], "buildkit-node-0");
        assert_eq!(d["metadata"]["labels"], json!({"app": "buildkit-node-0"}));
        assert_eq!(d["spec"]["replicas"], 2);
        assert_eq!(
            d["spec"]["selector"]["matchLabels"],
            json!({"app": "buildkit-node-0"})
        );
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["name"], "buildkitd");
        assert_eq!(c["securityContext"], json!({"privileged": true}));
        assert_eq!(
            c["resources"],
            json!({"requests": {"cpu": "500m"}, "limits": {"memory": "2Gi"}})
        );
        assert_eq!(
            c["readinessProbe"],
            json!({"exec": {"command": ["buildctl", "debug", "workers"]}, "failureThreshold": 3,
                   "initialDelaySeconds": 5, "periodSeconds": 30, "successThreshold": 1, "timeoutSeconds": 60})
        );
        assert_eq!(c["livenessProbe"], c["readinessProbe"]);
        assert!(c.get("args").is_none());
    }

    #[test]
    fn rootless_statefulset_with_config() {
        let files: BTreeMap<String, Vec<u8>> = [
            ("buildkitd.toml".to_string(), b"debug = true\n".to_vec()),
            ("certs/ca.pem".to_string(), b"CA".to_vec()),
        ]
        .into();
        let o = Options::from_driver_opts(
            "n1",
            &opts(&[
                ("rootless", "true"),
                ("persistent-volume-claim.requests.storage", "10Gi"),
            ]),
            &["--debug".to_string()],
            Some(&files),
            &["linux/amd64".to_string(), "linux/arm64".to_string()],
        )
        .unwrap();
        assert_eq!(o.image, "moby/buildkit:buildx-stable-1-rootless");
        let objs = o.objects().unwrap();
        assert!(objs.deployment.is_none());
        let s = serde_json::to_value(objs.stateful_set.unwrap()).unwrap();
        let annotations = json!({
            "buildx.docker.com/platform": "linux/amd64,linux/arm64",
            "container.apparmor.security.beta.kubernetes.io/buildkitd": "unconfined"
        });
        assert_eq!(s["metadata"]["annotations"], annotations);
        assert_eq!(s["spec"]["serviceName"], "buildkitd");
        assert_eq!(s["spec"]["podManagementPolicy"], "Parallel");
        assert_eq!(
            s["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
            "10Gi"
        );
        let c = &s["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["args"],
            json!(["--debug", "--oci-worker-no-process-sandbox"])
        );
        assert_eq!(
            c["securityContext"],
            json!({"seccompProfile": {"type": "Unconfined"}})
        );
        assert_eq!(
            c["volumeMounts"],
            json!([
                {"name": "config", "mountPath": "/etc/buildkit"},
                {"name": "config-1", "mountPath": "/etc/buildkit/certs"},
                {"name": "buildkitd", "mountPath": "/home/user/.local/share/buildkit"}
            ])
        );
        let cms: Vec<Value> = objs
            .config_maps
            .iter()
            .map(|c| serde_json::to_value(c).unwrap())
            .collect();
        assert_eq!(cms[0]["metadata"]["name"], "n1-config");
        assert_eq!(cms[0]["data"], json!({"buildkitd.toml": "debug = true\n"}));
        assert_eq!(cms[1]["metadata"]["name"], "n1-config-1");
        assert_eq!(cms[1]["data"], json!({"ca.pem": "CA"}));
    }
}
