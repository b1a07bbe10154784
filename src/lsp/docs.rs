//! Documentation texts shown by hover and completion: instructions, their
//! flags, `RUN --mount` types and keys, parser directives. Written once here,
//! in our own words, with links to the Dockerfile reference.

const REF: &str = "https://docs.docker.com/reference/dockerfile/";

/// One documented instruction.
pub struct InstructionDoc {
    pub keyword: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Usage forms, one per line.
    pub syntax: &'static str,
    /// Anchor in the Dockerfile reference.
    pub anchor: &'static str,
    /// Completion snippet (LSP snippet syntax) inserted after the keyword.
    pub snippet: &'static str,
}

/// One documented flag (`--name`).
pub struct FlagDoc {
    pub instruction: &'static str,
    pub name: &'static str,
    pub value: &'static str,
    pub summary: &'static str,
    pub anchor: &'static str,
}

/// A `RUN --mount=type=…` type and the keys it takes.
pub struct MountDoc {
    pub kind: &'static str,
    pub summary: &'static str,
    pub keys: &'static [(&'static str, &'static str)],
}

/// A parser directive (`# name=value` at the top of the file).
pub struct DirectiveDoc {
    pub name: &'static str,
    pub summary: &'static str,
    pub snippet: &'static str,
    pub anchor: &'static str,
}

pub static INSTRUCTIONS: &[InstructionDoc] = &[
    InstructionDoc { keyword: "ADD", summary: "Copies files, directories, remote URLs or Git repositories into the image; local tar archives are extracted.", syntax: "ADD [--chown=<user>:<group>] [--chmod=<perms>] [--link] <src>... <dest>\nADD [options] [\"<src>\", ... \"<dest>\"]", anchor: "add", snippet: "${1:src} ${2:dest}" },
    InstructionDoc { keyword: "ARG", summary: "Declares a build argument that can be set with `--build-arg`; before the first FROM it is global and usable in FROM lines.", syntax: "ARG <name>[=<default value>] [<name>[=<default value>]...]", anchor: "arg", snippet: "${1:NAME}=${2:value}" },
    InstructionDoc { keyword: "CMD", summary: "Sets the default command of a container started from the image; only the last CMD counts.", syntax: "CMD [\"executable\", \"param\"]\nCMD command param", anchor: "cmd", snippet: "[\"${1:executable}\"]" },
    InstructionDoc { keyword: "COPY", summary: "Copies files and directories from the build context, a stage (`--from`) or an image into the image.", syntax: "COPY [--from=<stage|image>] [--chown=<user>:<group>] [--chmod=<perms>] [--link] <src>... <dest>", anchor: "copy", snippet: "${1:src} ${2:dest}" },
    InstructionDoc { keyword: "ENTRYPOINT", summary: "Sets the executable a container runs; CMD supplies its default arguments.", syntax: "ENTRYPOINT [\"executable\", \"param\"]\nENTRYPOINT command param", anchor: "entrypoint", snippet: "[\"${1:executable}\"]" },
    InstructionDoc { keyword: "ENV", summary: "Sets environment variables for the following instructions and for containers started from the image.", syntax: "ENV <key>=<value> [<key>=<value>...]", anchor: "env", snippet: "${1:KEY}=${2:value}" },
    InstructionDoc { keyword: "EXPOSE", summary: "Documents the ports the container listens on (it publishes nothing by itself).", syntax: "EXPOSE <port>[/<protocol>] [<port>[/<protocol>]...]", anchor: "expose", snippet: "${1:80}" },
    InstructionDoc { keyword: "FROM", summary: "Starts a build stage from a base image (or `scratch`, or an earlier stage); `AS name` names the stage.", syntax: "FROM [--platform=<platform>] <image>[:<tag>|@<digest>] [AS <name>]", anchor: "from", snippet: "${1:image}:${2:tag} AS ${3:name}" },
    InstructionDoc { keyword: "HEALTHCHECK", summary: "Tells the engine how to test that the container still works; `NONE` disables an inherited check.", syntax: "HEALTHCHECK [--interval=30s] [--timeout=30s] [--start-period=0s] [--retries=3] CMD <command>\nHEALTHCHECK NONE", anchor: "healthcheck", snippet: "CMD ${1:command}" },
    InstructionDoc { keyword: "LABEL", summary: "Adds key-value metadata to the image.", syntax: "LABEL <key>=<value> [<key>=<value>...]", anchor: "label", snippet: "${1:key}=\"${2:value}\"" },
    InstructionDoc { keyword: "MAINTAINER", summary: "Deprecated: sets the author field. Use `LABEL org.opencontainers.image.authors=...` instead.", syntax: "MAINTAINER <name>", anchor: "maintainer-deprecated", snippet: "${1:name}" },
    InstructionDoc { keyword: "ONBUILD", summary: "Registers an instruction that runs later, when another build uses this image as its base.", syntax: "ONBUILD <INSTRUCTION>", anchor: "onbuild", snippet: "${1:RUN} ${2:command}" },
    InstructionDoc { keyword: "RUN", summary: "Runs a command in a new layer on top of the current image; `--mount` attaches caches, secrets, SSH agents or other stages.", syntax: "RUN [--mount=...] [--network=default|none|host] <command>\nRUN [options] [\"executable\", \"param\"]", anchor: "run", snippet: "${1:command}" },
    InstructionDoc { keyword: "SHELL", summary: "Replaces the shell used by the shell form of RUN, CMD and ENTRYPOINT.", syntax: "SHELL [\"executable\", \"parameters\"]", anchor: "shell", snippet: "[\"${1:/bin/sh}\", \"${2:-c}\"]" },
    InstructionDoc { keyword: "STOPSIGNAL", summary: "Sets the signal sent to stop the container.", syntax: "STOPSIGNAL <signal>", anchor: "stopsignal", snippet: "${1:SIGTERM}" },
    InstructionDoc { keyword: "USER", summary: "Sets the user (and optionally group) for the following RUN, CMD and ENTRYPOINT instructions.", syntax: "USER <user>[:<group>]\nUSER <UID>[:<GID>]", anchor: "user", snippet: "${1:user}" },
    InstructionDoc { keyword: "VOLUME", summary: "Declares mount points for externally mounted volumes.", syntax: "VOLUME [\"/data\"]\nVOLUME /data [/more...]", anchor: "volume", snippet: "${1:/data}" },
    InstructionDoc { keyword: "WORKDIR", summary: "Sets the working directory for the following instructions, creating it if needed; use absolute paths.", syntax: "WORKDIR /path/to/workdir", anchor: "workdir", snippet: "${1:/app}" },
];

pub static FLAGS: &[FlagDoc] = &[
    FlagDoc { instruction: "FROM", name: "platform", value: "<os>/<arch>[/<variant>]", summary: "Platform of the base image, e.g. `linux/amd64` or `$BUILDPLATFORM`.", anchor: "from" },
    FlagDoc { instruction: "RUN", name: "mount", value: "type=<cache|bind|secret|ssh|tmpfs>[,<key>=<value>...]", summary: "Attaches a filesystem to this RUN only: a persistent cache, a bind of a stage or the context, a secret, an SSH agent socket, or a tmpfs.", anchor: "run---mount" },
    FlagDoc { instruction: "RUN", name: "network", value: "default|none|host", summary: "Network of the command: `none` cuts it off, `host` needs the `network.host` entitlement.", anchor: "run---network" },
    FlagDoc { instruction: "RUN", name: "security", value: "sandbox|insecure", summary: "`insecure` runs the command without the sandbox (needs the `security.insecure` entitlement).", anchor: "run---security" },
    FlagDoc { instruction: "RUN", name: "device", value: "<name>[,required]", summary: "Exposes a CDI device to the command.", anchor: "run---device" },
    FlagDoc { instruction: "COPY", name: "from", value: "<stage|image|context>", summary: "Copies from a build stage, an image or a named context instead of the build context.", anchor: "copy---from" },
    FlagDoc { instruction: "COPY", name: "chown", value: "<user>[:<group>]", summary: "Owner of the copied files (Linux only).", anchor: "copy---chown---chmod" },
    FlagDoc { instruction: "COPY", name: "chmod", value: "<perms>", summary: "Permissions of the copied files, octal or symbolic.", anchor: "copy---chown---chmod" },
    FlagDoc { instruction: "COPY", name: "link", value: "", summary: "Copies into an independent layer, so the step stays cached when earlier layers change.", anchor: "copy---link" },
    FlagDoc { instruction: "COPY", name: "parents", value: "", summary: "Keeps the source's parent directories below the destination.", anchor: "copy---parents" },
    FlagDoc { instruction: "COPY", name: "exclude", value: "<pattern>", summary: "Leaves out files matching the pattern.", anchor: "copy---exclude" },
    FlagDoc { instruction: "ADD", name: "chown", value: "<user>[:<group>]", summary: "Owner of the added files (Linux only).", anchor: "add---chown---chmod" },
    FlagDoc { instruction: "ADD", name: "chmod", value: "<perms>", summary: "Permissions of the added files.", anchor: "add---chown---chmod" },
    FlagDoc { instruction: "ADD", name: "link", value: "", summary: "Adds into an independent layer.", anchor: "add---link" },
    FlagDoc { instruction: "ADD", name: "keep-git-dir", value: "", summary: "Keeps the `.git` directory when adding a Git repository.", anchor: "add---keep-git-dir" },
    FlagDoc { instruction: "ADD", name: "checksum", value: "<hash>", summary: "Verifies a remote source against the digest.", anchor: "add---checksum" },
    FlagDoc { instruction: "ADD", name: "exclude", value: "<pattern>", summary: "Leaves out files matching the pattern.", anchor: "add---exclude" },
    FlagDoc { instruction: "ADD", name: "unpack", value: "<bool>", summary: "Whether archives are extracted (default: local archives yes, URLs no).", anchor: "add---unpack" },
    FlagDoc { instruction: "HEALTHCHECK", name: "interval", value: "<duration>", summary: "Time between checks (default 30s).", anchor: "healthcheck" },
    FlagDoc { instruction: "HEALTHCHECK", name: "timeout", value: "<duration>", summary: "Time a check may take before it counts as failed (default 30s).", anchor: "healthcheck" },
    FlagDoc { instruction: "HEALTHCHECK", name: "start-period", value: "<duration>", summary: "Start-up time during which failures do not count (default 0s).", anchor: "healthcheck" },
    FlagDoc { instruction: "HEALTHCHECK", name: "start-interval", value: "<duration>", summary: "Time between checks during the start period (default 5s).", anchor: "healthcheck" },
    FlagDoc { instruction: "HEALTHCHECK", name: "retries", value: "<n>", summary: "Consecutive failures before the container is unhealthy (default 3).", anchor: "healthcheck" },
];

pub static MOUNTS: &[MountDoc] = &[
    MountDoc {
        kind: "cache",
        summary: "A persistent cache directory kept between builds (package managers, compilers).",
        keys: &[
            ("target", "where it is mounted (required)"),
            ("id", "cache identity (default: the target)"),
            ("sharing", "shared, private or locked"),
            ("from", "stage or image to seed the cache from"),
            ("source", "subpath of `from`"),
            (
                "mode",
                "permissions of a new cache directory (default 0755)",
            ),
            ("uid", "owner user id of a new cache directory"),
            ("gid", "owner group id of a new cache directory"),
            ("readonly", "mount read-only"),
        ],
    },
    MountDoc {
        kind: "bind",
        summary: "Binds a directory of the context, a stage or an image (read-only by default).",
        keys: &[
            ("target", "where it is mounted (required)"),
            ("source", "path in `from` (default: its root)"),
            (
                "from",
                "stage, image or context (default: the build context)",
            ),
            ("readwrite", "allow writes (discarded afterwards)"),
        ],
    },
    MountDoc {
        kind: "secret",
        summary:
            "Exposes a build secret as a file or environment variable, never stored in the image.",
        keys: &[
            ("id", "the secret's id (`--secret id=...`)"),
            ("target", "file path (default /run/secrets/<id>)"),
            ("env", "environment variable to hold the secret"),
            ("required", "fail when the secret is missing"),
            ("mode", "file permissions (default 0400)"),
            ("uid", "file owner user id"),
            ("gid", "file owner group id"),
        ],
    },
    MountDoc {
        kind: "ssh",
        summary: "Forwards an SSH agent socket (`--ssh`) for private Git or SSH access.",
        keys: &[
            ("id", "the SSH id (default `default`)"),
            ("target", "socket path"),
            ("required", "fail when no agent is available"),
            ("mode", "socket permissions (default 0600)"),
            ("uid", "socket owner user id"),
            ("gid", "socket owner group id"),
        ],
    },
    MountDoc {
        kind: "tmpfs",
        summary: "A temporary in-memory filesystem.",
        keys: &[
            ("target", "where it is mounted (required)"),
            ("size", "size limit in bytes"),
        ],
    },
];

pub static DIRECTIVES: &[DirectiveDoc] = &[
    DirectiveDoc { name: "syntax", summary: "Selects the Dockerfile frontend image BuildKit builds with.", snippet: "syntax=${1:docker/dockerfile:1}", anchor: "syntax" },
    DirectiveDoc { name: "escape", summary: "Sets the escape character (`\\` or `` ` ``).", snippet: "escape=${1:`}", anchor: "escape" },
    DirectiveDoc { name: "check", summary: "Configures build checks: `skip=Rule1,Rule2` or `skip=all`, `error=true`, `experimental=...`.", snippet: "check=skip=${1:RuleName}", anchor: "check" },
];

/// Which argument a positional parameter of a signature stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The argument with this index.
    Arg(usize),
    /// Every argument from this index on (`<src>...`, `<port>...`).
    From(usize),
    /// The last argument, when there are at least two (`<dest>`).
    Last,
    /// The key of an ENV/LABEL/ARG pair.
    Key,
    /// The value of an ENV/LABEL/ARG pair.
    Value,
}

/// One positional parameter of an instruction's signature.
pub struct ParamDoc {
    /// As shown in the signature, e.g. `<src>...`.
    pub label: &'static str,
    pub slot: Slot,
    pub summary: &'static str,
}

/// One form of an instruction (`CMD ["executable", …]`, `CMD command`): its
/// flags come from [`FLAGS`], so the signature label is built from both.
pub struct SignatureDoc {
    pub keyword: &'static str,
    pub form: FormDoc,
    pub params: &'static [ParamDoc],
}

/// Which written form a signature describes, to pick the active one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormDoc {
    Any,
    /// A JSON array of strings (exec form).
    Json,
    /// Plain text (shell form).
    Shell,
    /// `HEALTHCHECK NONE`.
    None,
}

const fn param(label: &'static str, slot: Slot, summary: &'static str) -> ParamDoc {
    ParamDoc {
        label,
        slot,
        summary,
    }
}

const fn sig(keyword: &'static str, form: FormDoc, params: &'static [ParamDoc]) -> SignatureDoc {
    SignatureDoc {
        keyword,
        form,
        params,
    }
}

const SRC: ParamDoc = param("<src>...", Slot::From(0), "One or more sources: paths in the build context (or the `--from` source), globs allowed; ADD also takes URLs and Git repositories.");
const DEST: ParamDoc = param("<dest>", Slot::Last, "Destination in the image: absolute, or relative to WORKDIR; a trailing `/` makes it a directory.");
const EXEC: ParamDoc = param(
    "\"<executable>\"",
    Slot::Arg(0),
    "The program to run, without a shell.",
);
const EXEC_PARAMS: ParamDoc = param(
    "\"<param>\"...",
    Slot::From(1),
    "Its arguments, one JSON string each.",
);
const COMMAND: ParamDoc = param(
    "<command>",
    Slot::From(0),
    "A command line run by the shell (`/bin/sh -c` unless SHELL changed it).",
);

/// Every form of every instruction, in the order editors list them.
pub static SIGNATURES: &[SignatureDoc] = &[
    sig("ADD", FormDoc::Any, &[SRC, DEST]),
    sig("ARG", FormDoc::Any, &[
        param("<name>", Slot::Key, "The build argument's name; `--build-arg <name>=<value>` sets it."),
        param("<default value>", Slot::Value, "Used when the build does not set the argument."),
    ]),
    sig("CMD", FormDoc::Json, &[EXEC, EXEC_PARAMS]),
    sig("CMD", FormDoc::Shell, &[COMMAND]),
    sig("COPY", FormDoc::Any, &[SRC, DEST]),
    sig("ENTRYPOINT", FormDoc::Json, &[EXEC, EXEC_PARAMS]),
    sig("ENTRYPOINT", FormDoc::Shell, &[COMMAND]),
    sig("ENV", FormDoc::Any, &[
        param("<key>", Slot::Key, "The variable's name."),
        param("<value>", Slot::Value, "Its value; quote it or escape spaces."),
    ]),
    sig("EXPOSE", FormDoc::Any, &[param("<port>[/<protocol>]...", Slot::From(0), "A port number or range, optionally `/tcp` (the default) or `/udp`.")]),
    sig("FROM", FormDoc::Any, &[
        param("<image>", Slot::Arg(0), "The base: an image reference (`name[:tag][@digest]`), an earlier stage's name, or `scratch`."),
        param("AS", Slot::Arg(1), "Introduces the stage name."),
        param("<name>", Slot::Arg(2), "The stage's name, for `--from=`, `--target` and later FROMs."),
    ]),
    sig("HEALTHCHECK", FormDoc::Any, &[
        param("CMD", Slot::Arg(0), "The check follows; `NONE` instead disables an inherited check."),
        param("<command>", Slot::From(1), "The check: exit status 0 means healthy, 1 unhealthy."),
    ]),
    sig("HEALTHCHECK", FormDoc::None, &[param("NONE", Slot::Arg(0), "Disables any health check inherited from the base image.")]),
    sig("LABEL", FormDoc::Any, &[
        param("<key>", Slot::Key, "The label's name, e.g. `org.opencontainers.image.source`."),
        param("<value>", Slot::Value, "Its value; quote it when it has spaces."),
    ]),
    sig("MAINTAINER", FormDoc::Any, &[param("<name>", Slot::From(0), "The author (deprecated: use `LABEL org.opencontainers.image.authors=…`).")]),
    sig("ONBUILD", FormDoc::Any, &[param("<INSTRUCTION>", Slot::From(0), "Any instruction but FROM, MAINTAINER and ONBUILD, run when an image builds FROM this one.")]),
    sig("RUN", FormDoc::Json, &[EXEC, EXEC_PARAMS]),
    sig("RUN", FormDoc::Shell, &[COMMAND]),
    sig("SHELL", FormDoc::Any, &[
        param("\"<executable>\"", Slot::Arg(0), "The shell, e.g. `/bin/bash` or `powershell`."),
        param("\"<parameters>\"...", Slot::From(1), "Its arguments before the command, e.g. `-c`."),
    ]),
    sig("STOPSIGNAL", FormDoc::Any, &[param("<signal>", Slot::From(0), "A signal name (`SIGTERM`, `SIGKILL`) or number.")]),
    sig("USER", FormDoc::Any, &[param("<user>[:<group>]", Slot::From(0), "A user name or UID, optionally with a group name or GID.")]),
    sig("VOLUME", FormDoc::Any, &[param("<path>...", Slot::From(0), "Mount points, as words or a JSON array.")]),
    sig("WORKDIR", FormDoc::Any, &[param("<path>", Slot::From(0), "The working directory; absolute paths are safest.")]),
];

/// The forms of an instruction.
pub fn signatures_of(keyword: &str) -> impl Iterator<Item = &'static SignatureDoc> + '_ {
    SIGNATURES
        .iter()
        .filter(move |s| s.keyword.eq_ignore_ascii_case(keyword))
}

/// A flag as signatures and completion show it: `--name` or `--name=<value>`.
pub fn flag_usage(f: &FlagDoc) -> String {
    if f.value.is_empty() {
        format!("--{}", f.name)
    } else {
        format!("--{}={}", f.name, f.value)
    }
}

pub fn url(anchor: &str) -> String {
    format!("{REF}#{anchor}")
}

pub fn instruction(keyword: &str) -> Option<&'static InstructionDoc> {
    INSTRUCTIONS
        .iter()
        .find(|d| d.keyword.eq_ignore_ascii_case(keyword))
}

pub fn flag(instruction: &str, name: &str) -> Option<&'static FlagDoc> {
    FLAGS
        .iter()
        .find(|f| f.instruction.eq_ignore_ascii_case(instruction) && f.name == name)
}

pub fn flags_of(instruction: &str) -> impl Iterator<Item = &'static FlagDoc> + '_ {
    FLAGS
        .iter()
        .filter(move |f| f.instruction.eq_ignore_ascii_case(instruction))
}

pub fn mount(kind: &str) -> Option<&'static MountDoc> {
    MOUNTS.iter().find(|m| m.kind == kind)
}

pub fn directive(name: &str) -> Option<&'static DirectiveDoc> {
    DIRECTIVES
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

/// Markdown hover text of an instruction.
pub fn instruction_markdown(d: &InstructionDoc) -> String {
    format!(
        "**{}** — {}\n\n```dockerfile\n{}\n```\n\n[Dockerfile reference]({})",
        d.keyword,
        d.summary,
        d.syntax,
        url(d.anchor)
    )
}

/// Markdown hover text of a flag.
pub fn flag_markdown(f: &FlagDoc) -> String {
    let usage = flag_usage(f);
    format!(
        "`{} {}` — {}\n\n[Dockerfile reference]({})",
        f.instruction,
        usage,
        f.summary,
        url(f.anchor)
    )
}

/// The length of the repository part of an image reference: before the
/// `@digest`, and before a `:tag` in the last path component (a `:` in the
/// first component is a registry port).
pub fn repository_len(image: &str) -> usize {
    let no_digest = image.find('@').unwrap_or(image.len());
    let last_slash = image[..no_digest].rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..no_digest].find(':') {
        Some(i) => last_slash + i,
        None => no_digest,
    }
}

/// The web page of an image repository (`registry/path`, or a Docker Hub
/// path), for the registries with a known web UI:
///
/// | registry | page |
/// | --- | --- |
/// | Docker Hub, official image (`nginx`, `library/nginx`) | `https://hub.docker.com/_/NAME` |
/// | Docker Hub, namespaced (`grafana/grafana`) | `https://hub.docker.com/r/NS/NAME` |
/// | `ghcr.io/OWNER/NAME` | `https://github.com/OWNER/NAME/pkgs/container/NAME` (GitHub's package page) |
/// | `quay.io/NS/NAME` | `https://quay.io/repository/NS/NAME` |
/// | `mcr.microsoft.com/PATH` | `https://mcr.microsoft.com/artifact/mar/PATH` |
/// | `public.ecr.aws/NS/NAME` | `https://gallery.ecr.aws/NS/NAME` |
pub fn image_page(repo: &str) -> Option<String> {
    let valid = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
    };
    let (domain, path) = match repo.split_once('/') {
        // Docker's rule: a first component with `.` or `:`, or `localhost`,
        // is a registry.
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => ("docker.io", repo),
    };
    let parts: Vec<&str> = path.split('/').collect();
    if !parts.iter().all(|p| valid(p)) {
        return None;
    }
    match (domain, parts.as_slice()) {
        ("docker.io" | "index.docker.io" | "registry-1.docker.io", ["library", name] | [name]) => {
            Some(format!("https://hub.docker.com/_/{name}"))
        }
        ("docker.io" | "index.docker.io" | "registry-1.docker.io", [ns, name]) => {
            Some(format!("https://hub.docker.com/r/{ns}/{name}"))
        }
        ("ghcr.io", [owner, name]) => Some(format!(
            "https://github.com/{owner}/{name}/pkgs/container/{name}"
        )),
        ("quay.io", [ns, name]) => Some(format!("https://quay.io/repository/{ns}/{name}")),
        ("mcr.microsoft.com", [_, ..]) => Some(format!(
            "https://mcr.microsoft.com/artifact/mar/{}",
            parts.join("/")
        )),
        ("public.ecr.aws", [ns, name]) => Some(format!("https://gallery.ecr.aws/{ns}/{name}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instruction_and_flag_is_documented_once() {
        assert_eq!(INSTRUCTIONS.len(), 18);
        let mut names: Vec<_> = FLAGS.iter().map(|f| (f.instruction, f.name)).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FLAGS.len());
        assert_eq!(
            url(instruction("copy").unwrap().anchor),
            "https://docs.docker.com/reference/dockerfile/#copy"
        );
        assert_eq!(mount("cache").unwrap().keys[0].0, "target");
    }

    #[test]
    fn every_instruction_has_a_signature() {
        for d in INSTRUCTIONS {
            assert!(signatures_of(d.keyword).next().is_some(), "{}", d.keyword);
        }
    }

    #[test]
    fn hub_and_known_registries_have_pages() {
        let cases = [
            ("alpine", Some("https://hub.docker.com/_/alpine")),
            ("library/alpine", Some("https://hub.docker.com/_/alpine")),
            (
                "docker.io/library/alpine",
                Some("https://hub.docker.com/_/alpine"),
            ),
            (
                "grafana/grafana",
                Some("https://hub.docker.com/r/grafana/grafana"),
            ),
            ("docker.io/a/b/c", None),
            (
                "ghcr.io/owner/tool",
                Some("https://github.com/owner/tool/pkgs/container/tool"),
            ),
            (
                "quay.io/prometheus/node-exporter",
                Some("https://quay.io/repository/prometheus/node-exporter"),
            ),
            (
                "mcr.microsoft.com/dotnet/sdk",
                Some("https://mcr.microsoft.com/artifact/mar/dotnet/sdk"),
            ),
            (
                "public.ecr.aws/lambda/python",
                Some("https://gallery.ecr.aws/lambda/python"),
            ),
            ("localhost:5000/app", None),
            ("registry.example.com/team/app", None),
            ("Alpine", None),
        ];
        for (repo, want) in cases {
            assert_eq!(image_page(repo).as_deref(), want, "{repo}");
        }
    }

    #[test]
    fn the_repository_ends_before_tag_and_digest() {
        assert_eq!(repository_len("alpine:3.20"), 6);
        assert_eq!(repository_len("localhost:5000/app:1"), 18);
        assert_eq!(repository_len("a/b@sha256:00"), 3);
        assert_eq!(repository_len("golang:${GO}"), 6);
    }
}
