//! Offline validation the FROM rules need: is a string a valid image
//! reference (`distribution/reference.ParseNormalizedNamed`), and what OS and
//! architecture does a platform string name (`containerd/platforms.Parse`).

/// Whether `s` parses as an image reference the way Docker normalises it
/// (`alpine`, `docker.io/library/alpine:3`, `host:5000/a/b@sha256:…`).
pub(crate) fn is_valid_image_reference(s: &str) -> bool {
    if s.is_empty() || (s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    {
        return false;
    }
    let (rest, digest) = match s.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (s, None),
    };
    if let Some(d) = digest {
        if !is_digest(d) {
            return false;
        }
    }
    // A tag is after the last ':' that follows the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        if !is_tag(t) {
            return false;
        }
    }
    if name.is_empty() || name.len() > 255 {
        return false;
    }
    let (domain, remainder) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    if let Some(d) = domain {
        if !is_domain(d) {
            return false;
        }
    }
    !remainder.is_empty() && remainder.split('/').all(is_path_component)
}

fn is_path_component(c: &str) -> bool {
    // alpha-numeric (separator alpha-numeric)*, separator: `.`, `_`, `__`, `-+`.
    let b = c.as_bytes();
    if b.is_empty() || !is_lower_alnum(b[0]) || !is_lower_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_lower_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_lower_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_lower_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip6, after))
                if !ip6.is_empty() && ip6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') =>
            {
                (None, after.strip_prefix(':'))
            }
            _ => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(d), None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    match host {
        None => true,
        Some(h) => {
            !h.is_empty()
                && h.split('.').all(|c| {
                    let b = c.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
                })
        }
    }
}

fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

fn is_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['+', '.', '-', '_']).all(|c| {
        c.starts_with(|ch: char| ch.is_ascii_alphabetic())
            && c.chars().all(|ch| ch.is_ascii_alphanumeric())
    });
    alg_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A parsed platform: OS and architecture, normalised as containerd does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Platform {
    pub os: String,
    pub arch: String,
}

/// A platform a Dockerfile names, parsed by containerd's rules
/// (`crate::platform`): `os`, `arch`, `os/arch`, `os/arch/variant`,
/// optionally `os(version)`, any case. A lone architecture gets this
/// machine's OS, a lone OS this machine's architecture.
pub(crate) fn parse_platform(s: &str) -> Option<Platform> {
    let p = crate::platform::normalize(crate::platform::parse(s).ok()?);
    Some(Platform {
        os: p.os,
        arch: p.architecture,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        for ok in [
            "alpine",
            "alpine:3.20",
            "library/alpine",
            "docker.io/library/alpine:latest",
            "localhost:5000/team/app:v1.2-rc_1",
            "MyRegistry.example.com/app",
            "ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "scratch",
            "a__b--c.d",
        ] {
            assert!(is_valid_image_reference(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            ":",
            "alpine:",
            ":3.20",
            "Alpine",
            "alpine/",
            "-alpine",
            "a..b",
            "alpine@sha256:short",
            "host:port/app",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(!is_valid_image_reference(bad), "{bad:?} should be invalid");
        }
    }

    #[test]
    fn platforms() {
        let p = |os: &str, arch: &str| {
            Some(Platform {
                os: os.into(),
                arch: arch.into(),
            })
        };
        assert_eq!(parse_platform("linux/amd64"), p("linux", "amd64"));
        assert_eq!(parse_platform("Linux/x86_64"), p("linux", "amd64"));
        assert_eq!(parse_platform("linux/arm64/v8"), p("linux", "arm64"));
        assert_eq!(parse_platform("aarch64"), p("linux", "arm64"));
        assert_eq!(
            parse_platform("windows(10.0.17763)/amd64"),
            p("windows", "amd64")
        );
        assert_eq!(parse_platform("notaplatform"), None);
        assert_eq!(parse_platform("a/b/c/d"), None);
        assert_eq!(parse_platform("linux/$ARCH"), None);
    }
}
