//! buildx's `--ssh` syntax (`util/buildflags/ssh.go`): `ID` alone (the
//! agent of `SSH_AUTH_SOCK`), or `ID=PATH[,PATH…]`, each path an agent
//! socket or a private key file. What the paths hold is read when the
//! session starts (`buildkit::sshforward`), as buildx's `sshprovider` does.

use std::path::PathBuf;

/// One `--ssh`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshSpec {
    /// The id a `RUN --mount=type=ssh,id=…` asks for (`default` when the
    /// mount names none).
    pub id: String,
    /// Agent sockets or key files; empty means `SSH_AUTH_SOCK`.
    pub paths: Vec<PathBuf>,
}

impl SshSpec {
    /// Parses `ID[=PATH[,PATH…]]` as buildx does: split at the first `=`,
    /// then the paths at every comma (no CSV quoting). Never fails: buildx
    /// accepts any text here and reports bad paths when the session starts.
    pub fn parse(value: &str) -> SshSpec {
        match value.split_once('=') {
            Some((id, paths)) => SshSpec {
                id: id.to_string(),
                paths: paths.split(',').map(PathBuf::from).collect(),
            },
            None => SshSpec {
                id: value.to_string(),
                paths: Vec::new(),
            },
        }
    }
}

/// Parses every `--ssh` value (empty values are skipped, as buildx does).
pub fn parse_ssh_specs(values: &[String]) -> Vec<SshSpec> {
    values
        .iter()
        .filter(|v| !v.is_empty())
        .map(|v| SshSpec::parse(v))
        .collect()
}

/// Adds `s`, replacing an earlier entry with its id in place (buildx's
/// `SSHKeys.Normalize` for bake's merged lists).
pub fn merge(list: &mut Vec<SshSpec>, s: SshSpec) {
    match list.iter_mut().find(|x| x.id == s.id) {
        Some(slot) => *slot = s,
        None => list.push(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_paths_split_like_buildx() {
        assert_eq!(
            SshSpec::parse("default"),
            SshSpec {
                id: "default".into(),
                paths: vec![]
            }
        );
        let s = SshSpec::parse("git=/k/a,/k/b=c");
        assert_eq!(s.id, "git");
        assert_eq!(
            s.paths,
            vec![PathBuf::from("/k/a"), PathBuf::from("/k/b=c")]
        );
        // `default=` keeps one empty path: the agent of SSH_AUTH_SOCK.
        assert_eq!(SshSpec::parse("default=").paths, vec![PathBuf::new()]);
        assert_eq!(parse_ssh_specs(&["".into(), "x".into()]).len(), 1);
    }

    #[test]
    fn a_later_id_replaces_the_earlier() {
        let mut l = vec![SshSpec::parse("a=/1"), SshSpec::parse("b")];
        merge(&mut l, SshSpec::parse("a=/2"));
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].paths, vec![PathBuf::from("/2")]);
    }
}
