//! PATCH bodies: JSON merge patch (RFC 7386), an approximation of strategic
//! merge patch (lists of objects with a `name` merge by name, as for
//! containers, env, volumes), and JSON patch (RFC 6902: add, remove,
//! replace, test, copy, move).

use serde_json::Value;

/// RFC 7386: objects merge key by key, `null` removes, anything else
/// replaces.
pub fn merge_patch(mut target: Value, patch: &Value) -> Value {
    apply_merge(&mut target, patch, false);
    target
}

/// Strategic merge patch, approximated: as [`merge_patch`], except that two
/// lists whose items are all objects with a `name` merge item by item
/// (a patch item with `"$patch": "delete"` removes the named item).
pub fn strategic_merge(mut target: Value, patch: &Value) -> Value {
    apply_merge(&mut target, patch, true);
    target
}

fn named_list(v: &Value) -> bool {
    v.as_array()
        .is_some_and(|a| !a.is_empty() && a.iter().all(|i| i["name"].is_string()))
}

fn apply_merge(target: &mut Value, patch: &Value, strategic: bool) {
    let Some(patch_map) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Default::default());
    }
    let Some(map) = target.as_object_mut() else {
        return;
    };
    for (k, v) in patch_map {
        if k.starts_with("$setElementOrder") || k == "$retainKeys" {
            continue;
        }
        if v.is_null() {
            map.remove(k);
            continue;
        }
        let existing = map.entry(k.clone()).or_insert(Value::Null);
        if strategic && named_list(existing) && named_list(v) {
            merge_named(existing, v);
        } else if v.is_object() {
            apply_merge(existing, v, strategic);
        } else {
            *existing = v.clone();
        }
    }
}

fn merge_named(target: &mut Value, patch: &Value) {
    let (Some(items), Some(patch_items)) = (target.as_array_mut(), patch.as_array()) else {
        return;
    };
    for p in patch_items {
        let name = &p["name"];
        let pos = items.iter().position(|i| &i["name"] == name);
        if p["$patch"] == "delete" {
            if let Some(i) = pos {
                items.remove(i);
            }
            continue;
        }
        match pos {
            Some(i) => apply_merge(&mut items[i], p, true),
            None => items.push(p.clone()),
        }
    }
}

/// RFC 6902. The error is the API server's 422 message.
pub fn json_patch(mut target: Value, patch: &Value) -> Result<Value, String> {
    let ops = patch.as_array().ok_or_else(|| {
        "the server rejected our request due to an error in our request".to_string()
    })?;
    for op in ops {
        let path = op["path"].as_str().unwrap_or_default();
        match op["op"].as_str().unwrap_or_default() {
            "add" => add(&mut target, path, op["value"].clone())?,
            "remove" => {
                remove(&mut target, path)?;
            }
            "replace" => {
                remove(&mut target, path)?;
                add(&mut target, path, op["value"].clone())?;
            }
            "test" => {
                if target.pointer(path) != Some(&op["value"]) {
                    return Err(format!("testing value {path} failed: test failed"));
                }
            }
            "copy" | "move" => {
                let from = op["from"].as_str().unwrap_or_default();
                let v = target
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| format!("doc is missing from path: {from}"))?;
                if op["op"] == "move" {
                    remove(&mut target, from)?;
                }
                add(&mut target, path, v)?;
            }
            other => return Err(format!("Unexpected kind: {other}")),
        }
    }
    Ok(target)
}

fn split(path: &str) -> Result<(String, String), String> {
    let idx = path
        .rfind('/')
        .ok_or_else(|| format!("add operation does not apply: doc is missing path: \"{path}\""))?;
    let last = path[idx + 1..].replace("~1", "/").replace("~0", "~");
    Ok((path[..idx].to_string(), last))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split(path)?;
    let missing =
        || format!("add operation does not apply: doc is missing path: \"{path}\": missing value");
    match target.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => {
            m.insert(last, value);
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(value);
            } else {
                let i: usize = last.parse().map_err(|_| missing())?;
                if i > a.len() {
                    return Err(missing());
                }
                a.insert(i, value);
            }
        }
        _ => return Err(missing()),
    }
    Ok(())
}

fn remove(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split(path)?;
    let missing = || format!("remove operation does not apply: doc is missing path: \"{path}\"");
    match target.pointer_mut(&parent).ok_or_else(missing)? {
        Value::Object(m) => m.remove(&last).ok_or_else(missing),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i >= a.len() {
                return Err(missing());
            }
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}
