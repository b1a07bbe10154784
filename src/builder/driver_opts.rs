//! What `builder create` checks before anything is stored, with buildx's
//! wording: the driver exists and allows instances, `--driver-opt` values
//! (`k=v`, CSV-quoted), the per-driver option sets and values (buildx's
//! driver factories), `--buildkitd-flags` (shell words) with buildx's
//! automatic `network.host` entitlement.

use std::collections::BTreeMap;

use super::nodegroup::Node;
use super::BuilderError;

/// The driver kinds buildx knows, in its registration order.
pub const DRIVERS: &[&str] = &["docker", "docker-container", "kubernetes", "remote"];

/// buildx's `driver.GetFactory(name, instanceRequired=true)`.
pub fn check_driver(driver: &str) -> Result<(), BuilderError> {
    if !DRIVERS.contains(&driver) {
        return Err(BuilderError::Invalid(format!(
            "failed to find driver {driver:?}"
        )));
    }
    if driver == "docker" {
        return Err(BuilderError::Invalid(format!(
            "additional instances of driver {driver:?} cannot be created"
        )));
    }
    Ok(())
}

/// Splits one CSV record (go-csvvalue): commas separate fields, a field may
/// be double-quoted with `""` for a quote.
fn csv_fields(s: &str) -> Result<Vec<String>, BuilderError> {
    let mut fields = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => {
                        return Err(BuilderError::Invalid(format!(
                            "invalid value {s:?}: extraneous or missing \" in quoted-field"
                        )))
                    }
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => {
                    return Err(BuilderError::Invalid(format!(
                        "invalid value {s:?}: extraneous or missing \" in quoted-field"
                    )))
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// buildx's `csvToMap` for `--driver-opt`: no options is Go's nil map.
pub fn csv_to_map(values: &[String]) -> Result<Option<BTreeMap<String, String>>, BuilderError> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut map = BTreeMap::new();
    for value in values {
        for field in csv_fields(value)? {
            match field.split_once('=') {
                Some((k, v)) => {
                    map.insert(k.to_string(), v.to_string());
                }
                None => {
                    return Err(BuilderError::Invalid(format!(
                        "invalid value {field:?}, expecting k=v"
                    )))
                }
            }
        }
    }
    Ok(Some(map))
}

/// Shell-like word splitting (google/shlex, as buildx uses for
/// `--buildkitd-flags`): blanks separate words, quotes and `\` escape.
pub fn shell_words(input: &str) -> Result<Vec<String>, BuilderError> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\\' => {
                let next = chars.next().ok_or_else(|| {
                    BuilderError::Invalid(
                        "failed to parse buildkit flags: EOF found after escape character".into(),
                    )
                })?;
                word.get_or_insert_with(String::new).push(next);
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => {
                            return Err(BuilderError::Invalid(
                                "failed to parse buildkit flags: EOF found when expecting closing quote".into(),
                            ))
                        }
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => w.push(c),
                            Some(c) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => {
                                return Err(BuilderError::Invalid(
                                    "failed to parse buildkit flags: EOF found after escape character".into(),
                                ))
                            }
                        },
                        Some(c) => w.push(c),
                        None => {
                            return Err(BuilderError::Invalid(
                                "failed to parse buildkit flags: EOF found when expecting closing quote".into(),
                            ))
                        }
                    }
                }
            }
            // shlex treats `#` at a word start as a comment to end of input.
            '#' if word.is_none() => break,
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    if let Some(w) = word {
        words.push(w);
    }
    Ok(words)
}

const NETWORK_HOST_FLAG: &str = "--allow-insecure-entitlement=network.host";

/// buildx's `parseBuildkitdFlags`: split the flags, then add the
/// `network.host` entitlement for container drivers unless the user chose
/// entitlements (on the command line or in the BuildKit config).
pub fn buildkitd_flags(
    input: &str,
    driver: &str,
    driver_opts: Option<&BTreeMap<String, String>>,
    config_toml: Option<&str>,
) -> Result<Option<Vec<String>>, BuilderError> {
    let mut res = if input.is_empty() {
        None
    } else {
        Some(shell_words(input)?)
    };
    let mut entitlements = Vec::new();
    {
        let words = res.as_deref().unwrap_or_default();
        let mut i = 0;
        while i < words.len() {
            if let Some(v) = words[i].strip_prefix("--allow-insecure-entitlement=") {
                entitlements.push(v.to_string());
            } else if words[i] == "--allow-insecure-entitlement" {
                if let Some(v) = words.get(i + 1) {
                    entitlements.push(v.clone());
                    i += 1;
                }
            }
            i += 1;
        }
    }
    let has_network_host = entitlements.iter().any(|e| e == "network.host");
    let in_config = config_toml.is_some_and(config_has_network_host);
    let network_host_opt = driver_opts
        .and_then(|o| o.get("network"))
        .is_some_and(|v| v == "host");
    // buildx's two branches: `network=host` on docker-container always gets
    // the entitlement; otherwise container drivers get it unless the user
    // chose any entitlement.
    let forced = network_host_opt && !has_network_host && driver == "docker-container";
    let implied = entitlements.is_empty()
        && !in_config
        && (driver == "kubernetes" || driver == "docker-container");
    if forced || implied {
        res.get_or_insert_with(Vec::new)
            .push(NETWORK_HOST_FLAG.into());
    }
    Ok(res)
}

/// Whether a buildkitd.toml lists `network.host` in `insecure-entitlements`.
/// A line scan, enough for the one top-level key this looks at.
fn config_has_network_host(toml: &str) -> bool {
    let mut in_key = false;
    for line in toml.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.starts_with('[') && !in_key {
            // tables start: top-level keys are over
            return false;
        }
        if let Some(rest) = line.strip_prefix("insecure-entitlements") {
            in_key = rest.trim_start().starts_with('=');
        }
        if in_key {
            if line.contains("\"network.host\"") || line.contains("'network.host'") {
                return true;
            }
            if line.contains(']') {
                in_key = false;
            }
        }
    }
    false
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {v:?}: invalid syntax")),
    }
}

fn parse_int(v: &str) -> Result<i64, String> {
    v.parse::<i64>()
        .map_err(|_| format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))
}

/// docker/go-units `RAMInBytes` syntax: `512m`, `1.5GiB`, `1024`.
fn parse_size(v: &str) -> Result<(), String> {
    let s = v.trim_end_matches(['b', 'B']);
    let s = s.strip_suffix(['i', 'I']).unwrap_or(s);
    let s = s
        .strip_suffix(['k', 'K', 'm', 'M', 'g', 'G', 't', 'T', 'p', 'P'])
        .unwrap_or(s);
    let s = s.trim_end();
    let ok = !s.is_empty()
        && s.split('.')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid size: '{v}'"))
    }
}

fn parse_restart_policy(v: &str) -> Result<(), String> {
    let (name, count) = match v.split_once(':') {
        Some((n, c)) => (n, Some(c)),
        None => (v, None),
    };
    match (name, count) {
        ("no" | "always" | "unless-stopped", None) | ("", None) => Ok(()),
        ("on-failure", None) => Ok(()),
        ("on-failure", Some(c)) if c.parse::<u32>().is_ok() => Ok(()),
        ("on-failure", Some(c)) => Err(format!(
            "invalid restart policy format: maximum retry count must be an integer: {c}"
        )),
        (_, Some(_)) => Err(format!("invalid restart policy format: {v}")),
        _ => Err(format!("invalid restart policy: {v}")),
    }
}

/// The checks a buildx driver factory makes on a node's configuration
/// (`factory.New`), so a builder that buildx would refuse to load is never
/// stored. Returns the bare message; callers wrap it.
pub fn validate_node(driver: &str, node: &Node) -> Result<(), String> {
    let opts = node.driver_opts.clone().unwrap_or_default();
    let has_files = node.files.as_ref().is_some_and(|f| !f.is_empty());
    match driver {
        "docker" if has_files => {
            return Err("setting config file is not supported for docker driver, use dockerd configuration file".into());
        }
        "docker-container" => {
            for (k, v) in &opts {
                match k.as_str() {
                    "network" | "image" | "cpuset-cpus" | "cpuset-mems" | "cgroup-parent" => {}
                    "memory" | "memory-swap" => parse_size(v)?,
                    "cpu-period" | "cpu-quota" | "cpu-shares" => {
                        parse_int(v)?;
                    }
                    "restart-policy" => parse_restart_policy(v)?,
                    // privileged, cap-add: ours, for hosts that forbid privileged containers
                    "cap-add" => {}
                    "default-load"
                    | "provenance-add-gha"
                    | "allow-untrusted-image"
                    | "privileged" => {
                        parse_bool(v)?;
                    }
                    k if k.starts_with("env.") => {
                        if k == "env." {
                            return Err(format!("invalid env option {k:?}, expecting env.FOO=bar"));
                        }
                    }
                    _ => {
                        return Err(format!(
                            "invalid driver option {k} for docker-container driver"
                        ))
                    }
                }
            }
        }
        "kubernetes" => {
            // The driver owns the option rules (buildx's factory, its words).
            crate::driver::kubernetes::Options::from_driver_opts(
                &node.name,
                &opts,
                node.buildkitd_flags.as_deref().unwrap_or_default(),
                node.files.as_ref(),
                &[],
            )?;
        }
        "remote" => {
            if has_files {
                return Err("setting config file is not supported for remote driver".into());
            }
            if node.buildkitd_flags.as_ref().is_some_and(|f| !f.is_empty()) {
                return Err("setting buildkit flags is not supported for remote driver".into());
            }
            // The driver owns the option rules; the store only asks it.
            if let Some(v) = opts.get("default-load") {
                parse_bool(v)?;
            }
            if let Err(e) = crate::driver::remote::tls_options(&opts) {
                return Err(match e {
                    crate::driver::DriverError::Config { detail, .. } => detail,
                    other => other.to_string(),
                });
            }
        }
        _ => {}
    }
    Ok(())
}

/// buildx's `remoteutil.IsValidEndpoint` for the remote driver.
pub fn validate_buildkit_endpoint(ep: &str) -> Result<(), BuilderError> {
    const SCHEMES: &[&str] = &[
        "docker-container",
        "kube-pod",
        "npipe",
        "ssh",
        "tcp",
        "unix",
    ];
    let scheme = ep.split_once("://").map(|(s, _)| s).unwrap_or("");
    if !SCHEMES.contains(&scheme) {
        return Err(BuilderError::Invalid(format!(
            "unrecognized url scheme {scheme}"
        )));
    }
    Ok(())
}

/// The Docker CLI's `opts.ParseHost(true, ep)` for a docker endpoint given to
/// `create`: `unix://`, `tcp://` (port 2376 by default), `npipe://`, `fd://`,
/// `ssh://`, or a bare `host:port`.
pub fn parse_docker_host(ep: &str) -> Result<String, BuilderError> {
    let fail = || {
        BuilderError::Invalid(format!(
            "failed to parse endpoint {ep}: Invalid bind address format: {ep}"
        ))
    };
    let ep_trim = ep.trim();
    match ep_trim.split_once("://") {
        Some(("unix", path)) => Ok(format!(
            "unix://{}",
            if path.is_empty() {
                "/var/run/docker.sock"
            } else {
                path
            }
        )),
        Some(("npipe" | "fd" | "ssh", _)) => Ok(ep_trim.to_string()),
        Some(("tcp", addr)) => tcp_host(addr).ok_or_else(fail),
        Some(_) => Err(fail()),
        None => tcp_host(ep_trim).ok_or_else(fail),
    }
}

fn tcp_host(addr: &str) -> Option<String> {
    let (host, rest) = match addr.find('/') {
        Some(i) => (&addr[..i], &addr[i..]),
        None => (addr, ""),
    };
    let (name, port) = if host.starts_with('[') {
        // [v6-address]:port
        let end = host.find(']')?;
        let (name, after) = host.split_at(end + 1);
        match after.strip_prefix(':') {
            Some(p) if !p.is_empty() => (name, p),
            _ if after.is_empty() || after == ":" => (name, "2376"),
            _ => return None,
        }
    } else {
        match host.split_once(':') {
            Some((h, p)) if !p.is_empty() => (h, p),
            Some((h, _)) => (h, "2376"),
            None => (host, "2376"),
        }
    };
    if !port.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let name = if name.is_empty() { "localhost" } else { name };
    Some(format!("tcp://{name}:{port}{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_opts_parse_like_buildx() {
        let m = csv_to_map(&[
            "image=moby/buildkit:v0.20.0,network=host".into(),
            "\"env.A=1,2\"".into(),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(m.get("image").unwrap(), "moby/buildkit:v0.20.0");
        assert_eq!(m.get("network").unwrap(), "host");
        assert_eq!(m.get("env.A").unwrap(), "1,2");
        assert_eq!(
            csv_to_map(&["foo".into()]).unwrap_err().to_string(),
            "invalid value \"foo\", expecting k=v"
        );
        assert!(csv_to_map(&[]).unwrap().is_none());
    }

    #[test]
    fn unknown_option_messages_are_buildx_wording() {
        let node = |k: &str, v: &str| Node {
            driver_opts: Some([(k.to_string(), v.to_string())].into()),
            ..Node::default()
        };
        assert_eq!(
            validate_node("docker-container", &node("foo", "1")).unwrap_err(),
            "invalid driver option foo for docker-container driver"
        );
        assert_eq!(
            validate_node("remote", &node("foo", "1")).unwrap_err(),
            "invalid driver option foo for remote driver"
        );
        assert_eq!(
            validate_node("kubernetes", &node("foo", "1")).unwrap_err(),
            "invalid driver option foo for driver kubernetes"
        );
        assert_eq!(
            validate_node("remote", &node("cacert", "rel/ca.pem")).unwrap_err(),
            "non-absolute path 'rel/ca.pem' provided for cacert"
        );
        assert_eq!(
            validate_node("remote", &node("cert", "/c.pem")).unwrap_err(),
            "tls enabled, but missing keys cacert, key"
        );
        assert_eq!(
            validate_node("docker-container", &node("default-load", "yes")).unwrap_err(),
            "strconv.ParseBool: parsing \"yes\": invalid syntax"
        );
        assert_eq!(
            validate_node("docker-container", &node("memory", "lots")).unwrap_err(),
            "invalid size: 'lots'"
        );
        assert!(validate_node("docker-container", &node("memory", "512m")).is_ok());
        assert!(validate_node("docker-container", &node("env.HTTP_PROXY", "x")).is_ok());
    }

    #[test]
    fn network_host_entitlement_added_as_buildx_does() {
        assert_eq!(
            buildkitd_flags("", "docker-container", None, None).unwrap(),
            Some(vec![NETWORK_HOST_FLAG.to_string()])
        );
        assert_eq!(buildkitd_flags("", "remote", None, None).unwrap(), None);
        assert_eq!(
            buildkitd_flags(
                "--debug --allow-insecure-entitlement security.insecure",
                "docker-container",
                None,
                None
            )
            .unwrap(),
            Some(vec![
                "--debug".to_string(),
                "--allow-insecure-entitlement".to_string(),
                "security.insecure".to_string()
            ])
        );
        assert_eq!(
            buildkitd_flags(
                "",
                "docker-container",
                None,
                Some("insecure-entitlements = [ \"network.host\" ]\n")
            )
            .unwrap(),
            None
        );
        let opts: BTreeMap<String, String> = [("network".to_string(), "host".to_string())].into();
        assert_eq!(
            buildkitd_flags(
                "--allow-insecure-entitlement=security.insecure",
                "docker-container",
                Some(&opts),
                None
            )
            .unwrap(),
            Some(vec![
                "--allow-insecure-entitlement=security.insecure".to_string(),
                NETWORK_HOST_FLAG.to_string()
            ])
        );
    }

    #[test]
    fn shell_words_handle_quotes() {
        assert_eq!(
            shell_words(r#"--debug --oci-worker-gc-keepstorage "10 GB" 'a b' c\ d"#).unwrap(),
            [
                "--debug",
                "--oci-worker-gc-keepstorage",
                "10 GB",
                "a b",
                "c d"
            ]
        );
        assert!(shell_words("\"open").is_err());
    }

    #[test]
    fn drivers_and_endpoints() {
        assert_eq!(
            check_driver("nope").unwrap_err().to_string(),
            "failed to find driver \"nope\""
        );
        assert_eq!(
            check_driver("docker").unwrap_err().to_string(),
            "additional instances of driver \"docker\" cannot be created"
        );
        assert!(check_driver("remote").is_ok());
        assert_eq!(
            parse_docker_host("tcp://1.2.3.4").unwrap(),
            "tcp://1.2.3.4:2376"
        );
        assert_eq!(
            parse_docker_host("1.2.3.4:2375").unwrap(),
            "tcp://1.2.3.4:2375"
        );
        assert_eq!(
            parse_docker_host("unix:///run/d.sock").unwrap(),
            "unix:///run/d.sock"
        );
        assert!(parse_docker_host("http://x").is_err());
        assert!(validate_buildkit_endpoint("tcp://127.0.0.1:1234").is_ok());
        assert_eq!(
            validate_buildkit_endpoint("http://x")
                .unwrap_err()
                .to_string(),
            "unrecognized url scheme http"
        );
    }
}
