//! The builder record buildx keeps in `instances/<name>`: a `NodeGroup` with
//! its `Node`s, read and written in buildx's exact JSON (see `gojson`), with
//! fields we do not know kept and written back. Also the in-memory edits
//! `create --append/--node/--leave` make (buildx's `NodeGroup.Update`/`Leave`).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;

use super::gojson;
use super::name::validate_name;
use super::platform::Platform;
use super::BuilderError;

/// A builder: a named group of nodes that share a driver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeGroup {
    pub name: String,
    /// Driver kind: `docker`, `docker-container`, `kubernetes`, `remote`.
    /// Empty for a docker context's own builder (buildx resolves it to
    /// `docker` when the daemon has BuildKit).
    pub driver: String,
    pub nodes: Vec<Node>,
    pub dynamic: bool,
    /// Top-level fields we do not know, written back as read.
    pub extra: BTreeMap<String, Value>,
    /// Not stored in the file: this is a docker context's builder.
    pub docker_context: bool,
    /// Not stored in the file: from `activity/<name>` (RFC 3339, UTC).
    pub last_activity: Option<String>,
}

/// One BuildKit daemon of a builder. `None` fields are Go's nil (`null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub endpoint: String,
    pub platforms: Option<Vec<Platform>>,
    pub driver_opts: Option<BTreeMap<String, String>>,
    /// Stored under the JSON key `Flags` (buildx kept the old name).
    pub buildkitd_flags: Option<Vec<String>>,
    /// File name → content, e.g. `buildkitd.toml`; base64 in the file.
    pub files: Option<BTreeMap<String, Vec<u8>>>,
    pub extra: BTreeMap<String, Value>,
}

impl NodeGroup {
    /// The file content buildx would write for this group (no trailing newline).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        out.push_str("{\"Name\":");
        gojson::string(&mut out, &self.name);
        out.push_str(",\"Driver\":");
        gojson::string(&mut out, &self.driver);
        out.push_str(",\"Nodes\":");
        if self.nodes.is_empty() {
            out.push_str("null");
        } else {
            out.push('[');
            for (i, node) in self.nodes.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                node.write_json(&mut out);
            }
            out.push(']');
        }
        out.push_str(",\"Dynamic\":");
        out.push_str(if self.dynamic { "true" } else { "false" });
        gojson::extra_fields(&mut out, &self.extra);
        out.push('}');
        out
    }

    /// Reads an instance file. Keys match as Go does (exact, then
    /// case-insensitive); unknown keys are kept in `extra`.
    pub fn from_json(data: &[u8]) -> Result<NodeGroup, String> {
        let value: Value = serde_json::from_slice(data).map_err(|e| e.to_string())?;
        let mut obj = match value {
            Value::Object(obj) => obj,
            other => return Err(format!("expected a JSON object, found {}", kind(&other))),
        };
        let mut ng = NodeGroup {
            name: take_string(&mut obj, "Name")?,
            driver: take_string(&mut obj, "Driver")?,
            ..NodeGroup::default()
        };
        match gojson::take_field(&mut obj, "Nodes") {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) => {
                for (i, item) in items.into_iter().enumerate() {
                    ng.nodes
                        .push(Node::from_json(item).map_err(|e| format!("Nodes[{i}]: {e}"))?);
                }
            }
            Some(other) => return Err(format!("Nodes: expected a list, found {}", kind(&other))),
        }
        ng.dynamic = match gojson::take_field(&mut obj, "Dynamic") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(other) => return Err(format!("Dynamic: expected a bool, found {}", kind(&other))),
        };
        ng.extra = obj.into_iter().collect();
        Ok(ng)
    }

    fn find_node(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The first free `<builder><n>` node name, as buildx names nodes.
    pub fn next_node_name(&self) -> String {
        (0..)
            .map(|i| format!("{}{i}", self.name))
            .find(|n| self.find_node(n).is_none())
            .unwrap_or_default()
    }

    /// Removes a node (`create --leave --node N`), with buildx's messages.
    pub fn leave(&mut self, node: &str) -> Result<(), BuilderError> {
        if self.dynamic {
            return Err(BuilderError::Invalid(
                "dynamic node group does not support Leave".into(),
            ));
        }
        let i = self.find_node(node).ok_or_else(|| {
            BuilderError::Invalid(format!("node {node:?} not found for {}", self.name))
        })?;
        if self.nodes.len() == 1 {
            return Err(BuilderError::Invalid(
                "can not leave last node, do you want to rm instance instead?".into(),
            ));
        }
        self.nodes.remove(i);
        Ok(())
    }

    /// Adds or changes a node, as buildx's `NodeGroup.Update`.
    pub fn update(&mut self, change: NodeUpdate) -> Result<(), BuilderError> {
        if self.dynamic {
            return Err(BuilderError::Invalid(
                "dynamic node group does not support Update".into(),
            ));
        }
        let found = self.find_node(&change.name);
        if found.is_none() && !change.append && !self.nodes.is_empty() {
            return Err(BuilderError::Invalid(format!(
                "node {} not found, did you mean to append?",
                change.name
            )));
        }
        if let Some(i) = found {
            let n = &mut self.nodes[i];
            let mut needs_restart = false;
            if change.endpoint_set {
                n.endpoint = change.endpoint.clone();
                needs_restart = true;
            }
            if change.platforms.is_some() {
                n.platforms = change.platforms;
            }
            if change.buildkitd_flags.is_some() {
                n.buildkitd_flags = change.buildkitd_flags;
                needs_restart = true;
            }
            if change.driver_opts.is_some() {
                n.driver_opts = change.driver_opts;
                needs_restart = true;
            }
            if let Some(files) = change.files {
                n.files.get_or_insert_with(BTreeMap::new).extend(files);
                needs_restart = true;
            }
            if needs_restart {
                tracing::warn!("new settings may not be used until builder is restarted");
            }
            return self.validate_duplicates(&change.endpoint, i);
        }
        let name = if change.name.is_empty() {
            self.next_node_name()
        } else {
            change.name
        };
        let name = validate_name(&name)?;
        self.nodes.push(Node {
            name,
            endpoint: change.endpoint.clone(),
            platforms: change.platforms,
            driver_opts: change.driver_opts,
            buildkitd_flags: change.buildkitd_flags,
            files: change.files,
            extra: BTreeMap::new(),
        });
        self.validate_duplicates(&change.endpoint, self.nodes.len() - 1)
    }

    /// No two nodes share an endpoint; a platform pinned on node `idx` is
    /// removed from the others (buildx's `validateDuplicates`).
    fn validate_duplicates(&mut self, endpoint: &str, idx: usize) -> Result<(), BuilderError> {
        if self.nodes.iter().filter(|n| n.endpoint == endpoint).count() > 1 {
            return Err(BuilderError::Invalid(format!(
                "invalid duplicate endpoint {endpoint}"
            )));
        }
        let pinned: Vec<String> = self.nodes[idx]
            .platforms
            .iter()
            .flatten()
            .map(Platform::format)
            .collect();
        for (i, node) in self.nodes.iter_mut().enumerate() {
            if i == idx {
                continue;
            }
            let kept: Vec<Platform> = node
                .platforms
                .iter()
                .flatten()
                .filter(|p| !pinned.contains(&p.format()))
                .cloned()
                .collect();
            // buildx always rewrites the list (an empty, non-nil one).
            node.platforms = Some(kept);
        }
        Ok(())
    }
}

/// One change to a node group, the arguments of buildx's `NodeGroup.Update`.
#[derive(Debug, Clone, Default)]
pub struct NodeUpdate {
    pub name: String,
    pub endpoint: String,
    pub endpoint_set: bool,
    pub append: bool,
    pub platforms: Option<Vec<Platform>>,
    pub buildkitd_flags: Option<Vec<String>>,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub files: Option<BTreeMap<String, Vec<u8>>>,
}

impl Node {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"Name\":");
        gojson::string(out, &self.name);
        out.push_str(",\"Endpoint\":");
        gojson::string(out, &self.endpoint);
        out.push_str(",\"Platforms\":");
        match &self.platforms {
            None => out.push_str("null"),
            Some(list) => {
                out.push('[');
                for (i, p) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    p.write_json(out);
                }
                out.push(']');
            }
        }
        out.push_str(",\"DriverOpts\":");
        gojson::string_map(out, self.driver_opts.as_ref());
        out.push_str(",\"Flags\":");
        gojson::string_list(out, self.buildkitd_flags.as_deref());
        out.push_str(",\"Files\":");
        gojson::bytes_map(out, self.files.as_ref());
        gojson::extra_fields(out, &self.extra);
        out.push('}');
    }

    fn from_json(v: Value) -> Result<Node, String> {
        let mut obj = match v {
            Value::Object(obj) => obj,
            other => return Err(format!("expected an object, found {}", kind(&other))),
        };
        let mut node = Node {
            name: take_string(&mut obj, "Name")?,
            endpoint: take_string(&mut obj, "Endpoint")?,
            ..Node::default()
        };
        node.platforms = match gojson::take_field(&mut obj, "Platforms") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => Some(
                items
                    .into_iter()
                    .map(Platform::from_json)
                    .collect::<Result<_, _>>()
                    .map_err(|e| format!("Platforms: {e}"))?,
            ),
            Some(other) => {
                return Err(format!(
                    "Platforms: expected a list, found {}",
                    kind(&other)
                ))
            }
        };
        node.driver_opts = match gojson::take_field(&mut obj, "DriverOpts") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    match v {
                        Value::String(s) => {
                            out.insert(k, s);
                        }
                        // Go leaves a null map entry as the zero value.
                        Value::Null => {
                            out.insert(k, String::new());
                        }
                        other => {
                            return Err(format!(
                                "DriverOpts.{k}: expected a string, found {}",
                                kind(&other)
                            ))
                        }
                    }
                }
                Some(out)
            }
            Some(other) => {
                return Err(format!(
                    "DriverOpts: expected an object, found {}",
                    kind(&other)
                ))
            }
        };
        node.buildkitd_flags = match gojson::take_field(&mut obj, "Flags") {
            None | Some(Value::Null) => None,
            Some(Value::Array(items)) => {
                let mut out = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => out.push(s),
                        other => {
                            return Err(format!("Flags: expected strings, found {}", kind(&other)))
                        }
                    }
                }
                Some(out)
            }
            Some(other) => return Err(format!("Flags: expected a list, found {}", kind(&other))),
        };
        node.files = match gojson::take_field(&mut obj, "Files") {
            None | Some(Value::Null) => None,
            Some(Value::Object(map)) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    let bytes = match v {
                        Value::Null => Vec::new(),
                        Value::String(s) => {
                            // Go's base64 decoder skips \r and \n.
                            let clean: String =
                                s.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
                            base64::engine::general_purpose::STANDARD
                                .decode(clean)
                                .map_err(|e| format!("Files.{k}: invalid base64: {e}"))?
                        }
                        other => {
                            return Err(format!(
                                "Files.{k}: expected base64 text, found {}",
                                kind(&other)
                            ))
                        }
                    };
                    out.insert(k, bytes);
                }
                Some(out)
            }
            Some(other) => {
                return Err(format!("Files: expected an object, found {}", kind(&other)))
            }
        };
        node.extra = obj.into_iter().collect();
        Ok(node)
    }
}

fn take_string(obj: &mut serde_json::Map<String, Value>, key: &str) -> Result<String, String> {
    match gojson::take_field(obj, key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("{key}: expected a string, found {}", kind(&other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> NodeGroup {
        NodeGroup {
            name: name.into(),
            driver: "docker-container".into(),
            ..NodeGroup::default()
        }
    }

    #[test]
    fn nodes_are_named_builder_then_index() {
        let mut ng = group("ci");
        for ep in ["unix:///a", "unix:///b", "unix:///c"] {
            ng.update(NodeUpdate {
                endpoint: ep.into(),
                append: true,
                ..NodeUpdate::default()
            })
            .unwrap();
        }
        let names: Vec<&str> = ng.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["ci0", "ci1", "ci2"]);
        ng.leave("ci1").unwrap();
        assert_eq!(ng.next_node_name(), "ci1");
    }

    #[test]
    fn duplicate_endpoint_and_last_node_rules() {
        let mut ng = group("x");
        ng.update(NodeUpdate {
            endpoint: "unix:///a".into(),
            ..NodeUpdate::default()
        })
        .unwrap();
        let err = ng
            .update(NodeUpdate {
                endpoint: "unix:///a".into(),
                append: true,
                ..NodeUpdate::default()
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "invalid duplicate endpoint unix:///a");
        // the failed append left a second node in memory; the caller does not save it
        let mut ng = group("x");
        ng.update(NodeUpdate::default()).unwrap();
        assert_eq!(
            ng.leave("x0").unwrap_err().to_string(),
            "can not leave last node, do you want to rm instance instead?"
        );
        assert_eq!(
            ng.update(NodeUpdate {
                name: "nope".into(),
                ..NodeUpdate::default()
            })
            .unwrap_err()
            .to_string(),
            "node nope not found, did you mean to append?"
        );
    }

    #[test]
    fn unknown_fields_survive_a_rewrite() {
        let text = br#"{"Name":"b","Driver":"remote","Nodes":[{"Name":"b0","Endpoint":"tcp://h:1234","Platforms":null,"DriverOpts":null,"Flags":null,"Files":null,"Future":{"z":1,"a":[true]}}],"Dynamic":false,"Extra":"kept"}"#;
        let ng = NodeGroup::from_json(text).unwrap();
        assert_eq!(ng.nodes[0].extra.len(), 1);
        assert_eq!(
            ng.to_json(),
            r#"{"Name":"b","Driver":"remote","Nodes":[{"Name":"b0","Endpoint":"tcp://h:1234","Platforms":null,"DriverOpts":null,"Flags":null,"Files":null,"Future":{"a":[true],"z":1}}],"Dynamic":false,"Extra":"kept"}"#
        );
    }

    #[test]
    fn keys_match_case_insensitively_like_go() {
        let ng = NodeGroup::from_json(
            br#"{"name":"b","DRIVER":"remote","nodes":[{"endpoint":"tcp://x:1"}]}"#,
        )
        .unwrap();
        assert_eq!(ng.name, "b");
        assert_eq!(ng.driver, "remote");
        assert_eq!(ng.nodes[0].endpoint, "tcp://x:1");
        assert!(ng.extra.is_empty());
    }

    #[test]
    fn type_errors_name_the_field() {
        let err =
            NodeGroup::from_json(br#"{"Name":"b","Nodes":[{"Flags":"--debug"}]}"#).unwrap_err();
        assert_eq!(err, "Nodes[0]: Flags: expected a list, found a string");
    }
}
