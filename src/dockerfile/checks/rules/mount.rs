//! `RUN --mount=…` values BuildKit refuses (`instructions.parseMount`, then
//! the mount target check of `dispatchRunMounts`): the build stops with
//! these messages, word for word.

use crate::dockerfile::checks::expand::suggest;
use crate::dockerfile::syntax::FlagOption;

const TYPES: [&str; 5] = ["bind", "cache", "tmpfs", "secret", "ssh"];
const SHARING: [&str; 3] = ["shared", "private", "locked"];
const KEYS: [&str; 19] = [
    "type",
    "from",
    "source",
    "target",
    "readonly",
    "id",
    "sharing",
    "required",
    "size",
    "mode",
    "uid",
    "gid",
    "src",
    "dst",
    "destination",
    "ro",
    "rw",
    "readwrite",
    "env",
];

fn did_you_mean(v: &str, options: &[&str]) -> String {
    suggest(v, options.iter().copied(), true)
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

fn go_bool(v: &str) -> bool {
    matches!(
        v,
        "1" | "t" | "T" | "TRUE" | "true" | "True" | "0" | "f" | "F" | "FALSE" | "false" | "False"
    )
}

/// Why BuildKit refuses this mount, given its options and a way to expand
/// a value in the stage's scope (`None`: the expansion failed, BuildKit's
/// own error then; not reported here). `workdir`: the stage's working
/// directory as BuildKit's WORKDIRs made it (`/` when none was set), which a
/// relative target is joined to.
pub(super) fn mount_error(
    options: &[FlagOption],
    expand: &dyn Fn(&str) -> Option<String>,
    workdir: &str,
) -> Option<String> {
    let mut kind = "bind".to_string();
    let (mut from, mut source, mut target, mut id, mut sharing) = (
        None::<String>,
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    );
    let (mut mode, mut uid, mut gid) = (false, false, false);
    for o in options {
        let key = o.key.to_lowercase();
        let field = match &o.value {
            Some(v) => format!("{}={v}", o.key),
            None => o.key.to_string(),
        };
        let Some(raw) = &o.value else {
            match key.as_str() {
                "readonly" | "ro" | "readwrite" | "rw" => continue,
                "required" if kind == "secret" || kind == "ssh" => continue,
                "required" => {
                    return Some(format!("unexpected key '{key}' for mount type '{kind}'"))
                }
                _ => return Some(format!("invalid field '{field}' must be a key=value pair")),
            }
        };
        let value = expand(raw)?;
        match key.as_str() {
            "type" => {
                let v = value.to_lowercase();
                if !TYPES.contains(&v.as_str()) {
                    return Some(format!(
                        "unsupported mount type {value:?}{}",
                        did_you_mean(&value, &TYPES)
                    ));
                }
                kind = v;
            }
            "from" => from = Some(value),
            "source" | "src" => source = value,
            "target" | "dst" | "destination" => target = value,
            "readonly" | "ro" | "readwrite" | "rw" => {
                if !go_bool(&value) {
                    return Some(format!("invalid value for {key}: {value}"));
                }
            }
            "required" => {
                if kind != "secret" && kind != "ssh" {
                    return Some(format!("unexpected key '{key}' for mount type '{kind}'"));
                }
                if !go_bool(&value) {
                    return Some(format!("invalid value for {key}: {value}"));
                }
            }
            "size" => {
                if kind != "tmpfs" {
                    return Some(format!("unexpected key '{key}' for mount type '{kind}'"));
                }
            }
            "id" => id = value,
            "sharing" => {
                let v = value.to_lowercase();
                if !SHARING.contains(&v.as_str()) {
                    return Some(format!(
                        "unsupported sharing value {value:?}{}",
                        did_you_mean(&value, &SHARING)
                    ));
                }
                sharing = v;
            }
            "mode" => {
                if u32::from_str_radix(&value, 8).is_err() {
                    return Some(format!("invalid value {value} for mode"));
                }
                mode = true;
            }
            "uid" | "gid" => {
                if value.parse::<u32>().is_err() {
                    return Some(format!("invalid value {value} for {key}"));
                }
                if key == "uid" {
                    uid = true;
                } else {
                    gid = true;
                }
            }
            "env" => {}
            _ => {
                return Some(format!(
                    "unexpected key '{key}' in '{field}'{}",
                    did_you_mean(&key, &KEYS)
                ))
            }
        }
    }
    if !matches!(kind.as_str(), "secret" | "ssh" | "cache") {
        for (set, what) in [(mode, "mode"), (uid, "uid"), (gid, "gid")] {
            if set {
                return Some(format!("{what} not allowed for {kind:?} type mounts"));
            }
        }
    }
    if kind == "secret" {
        if from.as_deref().is_some_and(|f| !f.is_empty()) {
            return Some("secret mount should not have a from".into());
        }
        if !sharing.is_empty() {
            return Some("secret mount should not define sharing".into());
        }
        if source.is_empty() && target.is_empty() && id.is_empty() {
            return Some("invalid secret mount. one of source, target required".into());
        }
        if !source.is_empty() && !id.is_empty() {
            return Some("both source and id can't be set".into());
        }
    }
    if !sharing.is_empty() && kind != "cache" {
        return Some(format!("invalid cache sharing set for {kind} mount"));
    }
    // Secret and SSH mounts get a default target; the others are refused
    // when they land on `/`: a relative target is joined to the working
    // directory first (`filepath.Join("/", dir, target)`), so an empty or
    // `..` target under a WORKDIR that resolved to `/` lands there too.
    if kind != "secret" && kind != "ssh" {
        let landed = match target.starts_with('/') {
            true => crate::dockerignore::clean(&target),
            false => crate::dockerignore::clean(&format!("/{workdir}/{target}")),
        };
        if landed == "/" {
            return Some("invalid mount target \"/\"".into());
        }
    }
    None
}
