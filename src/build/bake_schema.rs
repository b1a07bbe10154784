//! What a bake file may say, as data: the block types, the attributes of
//! each with their documentation and value kind, the built-in functions
//! with their signatures, and the `cache-to`/`cache-from`/`output` types.
//! Completion, hover and the bake checks all read these tables (one home).
//! Texts follow buildx's bake reference (docs/bake-reference.md).

/// The kind of value an attribute takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Bool,
    List,
    Map,
    /// Any value (a variable's default, a function's result).
    Any,
    /// A list of strings or of objects (`output`, `cache-to`, …).
    ListOrObjects,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Bool => "bool",
            Kind::List => "list of strings",
            Kind::Map => "map",
            Kind::Any => "any value",
            Kind::ListOrObjects => "list of strings or objects",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AttrDoc {
    pub name: &'static str,
    pub kind: Kind,
    pub summary: &'static str,
}

#[derive(Debug, Clone, Copy)]
pub struct BlockDoc {
    pub name: &'static str,
    /// How many labels the block takes.
    pub labels: usize,
    pub summary: &'static str,
    pub attrs: &'static [AttrDoc],
}

const fn a(name: &'static str, kind: Kind, summary: &'static str) -> AttrDoc {
    AttrDoc {
        name,
        kind,
        summary,
    }
}

pub const TARGET_ATTRS: &[AttrDoc] = &[
    a("annotations", Kind::List, "Annotations added to the image index, manifest or descriptor (`manifest:key=value`), like `--annotation`."),
    a("args", Kind::Map, "Build arguments passed to the Dockerfile's `ARG`s, like `--build-arg`. A `null` value leaves the Dockerfile's default."),
    a("attest", Kind::ListOrObjects, "Build attestations: `type=provenance,mode=max`, `type=sbom`, like `--attest`."),
    a("cache-from", Kind::ListOrObjects, "External cache sources, like `--cache-from`: `type=registry,ref=…`, `type=local,src=…`, `type=gha`, …"),
    a("cache-to", Kind::ListOrObjects, "Cache export destinations, like `--cache-to`: `type=inline`, `type=registry,ref=…`, `type=local,dest=…`, …"),
    a("call", Kind::String, "The frontend method to call instead of building: `build`, `check`, `outline`, `targets`, like `--call`."),
    a("context", Kind::String, "The build context: a folder (relative to the bake file's folder), a Git URL or a tarball URL. Default `.`."),
    a("contexts", Kind::Map, "Additional named contexts (`name = \"path\"`, `docker-image://…`, `target:<name>`), like `--build-context`."),
    a("description", Kind::String, "A description of the target, shown by `docker buildx bake --list`."),
    a("dockerfile", Kind::String, "The Dockerfile, relative to the context. Default `Dockerfile`."),
    a("dockerfile-inline", Kind::String, "The Dockerfile's text, used instead of a file."),
    a("entitlements", Kind::List, "Extra privileges the build may use: `network.host`, `security.insecure`, like `--allow`."),
    a("extra-hosts", Kind::Map, "Host name to IP mappings for `RUN`, like `--add-host`."),
    a("inherits", Kind::List, "Targets whose attributes this target starts from, in order; its own attributes win."),
    a("labels", Kind::Map, "Image labels, like `--label`."),
    a("matrix", Kind::Map, "Values to fork this target over: one target per combination, its name from `name`."),
    a("name", Kind::String, "The name of each target a `matrix` produces."),
    a("network", Kind::String, "The network mode of `RUN`: `default`, `none` or `host`, like `--network`."),
    a("no-cache", Kind::Bool, "Build without using the cache, like `--no-cache`."),
    a("no-cache-filter", Kind::List, "Stages built without the cache, like `--no-cache-filter`."),
    a("output", Kind::ListOrObjects, "Where the result goes: `type=image`, `type=registry`, `type=docker`, `type=oci,dest=…`, `type=local,dest=…`, `type=tar,dest=…`, like `--output`."),
    a("platforms", Kind::List, "Target platforms, like `--platform`: `linux/amd64`, `linux/arm64`, …"),
    a("pull", Kind::Bool, "Always pull the base images, like `--pull`."),
    a("secret", Kind::ListOrObjects, "Secrets exposed to `RUN --mount=type=secret`: `id=…,src=…` or `id=…,env=…`, like `--secret`."),
    a("shm-size", Kind::String, "The size of `/dev/shm` for `RUN`, like `--shm-size` (`128m`)."),
    a("ssh", Kind::ListOrObjects, "SSH agent sockets or keys exposed to `RUN --mount=type=ssh`, like `--ssh`."),
    a("tags", Kind::List, "Image names and tags, like `--tag`."),
    a("target", Kind::String, "The Dockerfile stage to build, like `--target`."),
    a("ulimits", Kind::List, "Resource limits for `RUN`: `nofile=1024:1024`, like `--ulimit`."),
];

pub const GROUP_ATTRS: &[AttrDoc] = &[
    a("description", Kind::String, "A description of the group."),
    a(
        "targets",
        Kind::List,
        "The targets (or groups) this group builds.",
    ),
];

pub const VARIABLE_ATTRS: &[AttrDoc] = &[
    a("default", Kind::Any, "The value when the environment does not set the variable."),
    a("description", Kind::String, "A description of the variable."),
    a("type", Kind::Any, "The variable's type (`string`, `bool`, `number`, `list(string)`, …); the environment value is parsed as it."),
];

pub const FUNCTION_ATTRS: &[AttrDoc] = &[
    a(
        "params",
        Kind::List,
        "The names of the function's parameters.",
    ),
    a(
        "variadic_params",
        Kind::String,
        "The name of a parameter that takes the remaining arguments as a list.",
    ),
    a("result", Kind::Any, "The expression the function returns."),
];

pub const BLOCKS: &[BlockDoc] = &[
    BlockDoc {
        name: "target",
        labels: 1,
        summary: "A build: what `docker buildx bake <name>` builds, with the options of `docker buildx build`.",
        attrs: TARGET_ATTRS,
    },
    BlockDoc {
        name: "group",
        labels: 1,
        summary: "A set of targets built together; `default` is built when bake is given no target.",
        attrs: GROUP_ATTRS,
    },
    BlockDoc {
        name: "variable",
        labels: 1,
        summary: "A value used in expressions (`${NAME}`), set by its default or by the environment variable of the same name.",
        attrs: VARIABLE_ATTRS,
    },
    BlockDoc {
        name: "function",
        labels: 1,
        summary: "A user-defined function usable in expressions.",
        attrs: FUNCTION_ATTRS,
    },
];

pub fn block(name: &str) -> Option<&'static BlockDoc> {
    BLOCKS.iter().find(|b| b.name == name)
}

pub fn attr(block_kind: &str, name: &str) -> Option<&'static AttrDoc> {
    block(block_kind)?.attrs.iter().find(|a| a.name == name)
}

/// The known attribute of `block_kind` nearest to a misspelt `name`, if
/// one is close enough to be what was meant.
pub fn nearest_attr(block_kind: &str, name: &str) -> Option<&'static str> {
    let attrs = block(block_kind)?.attrs;
    attrs
        .iter()
        .map(|a| {
            (
                crate::dockerfile::checks::levenshtein(&name.to_ascii_lowercase(), a.name),
                a.name,
            )
        })
        .filter(|(d, n)| *d <= (n.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

/// A built-in function of bake's expression language.
#[derive(Debug, Clone, Copy)]
pub struct FuncDoc {
    pub name: &'static str,
    pub signature: &'static str,
    pub summary: &'static str,
}

const fn f(name: &'static str, signature: &'static str, summary: &'static str) -> FuncDoc {
    FuncDoc {
        name,
        signature,
        summary,
    }
}

/// Bake's standard library (buildx `bake/hclparser/stdlib.go`).
pub const FUNCTIONS: &[FuncDoc] = &[
    f("abs", "abs(num)", "The absolute value of a number."),
    f("basename", "basename(path)", "The last element of a path."),
    f(
        "ceil",
        "ceil(num)",
        "The smallest whole number not less than `num`.",
    ),
    f("chomp", "chomp(str)", "`str` without trailing line breaks."),
    f(
        "chunklist",
        "chunklist(list, size)",
        "`list` split into lists of `size` elements.",
    ),
    f(
        "coalesce",
        "coalesce(vals...)",
        "The first argument that is not null or empty.",
    ),
    f(
        "coalescelist",
        "coalescelist(lists...)",
        "The first non-empty list.",
    ),
    f("compact", "compact(list)", "`list` without empty strings."),
    f("concat", "concat(lists...)", "The lists joined into one."),
    f(
        "contains",
        "contains(list, value)",
        "Whether `list` holds `value`.",
    ),
    f("csvdecode", "csvdecode(str)", "CSV text as a list of maps."),
    f(
        "dirname",
        "dirname(path)",
        "A path without its last element.",
    ),
    f("distinct", "distinct(list)", "`list` without duplicates."),
    f(
        "element",
        "element(list, index)",
        "The element at `index` (wrapping around).",
    ),
    f("equal", "equal(a, b)", "Whether two values are equal."),
    f("flatten", "flatten(list)", "Nested lists as one flat list."),
    f(
        "floor",
        "floor(num)",
        "The largest whole number not greater than `num`.",
    ),
    f(
        "format",
        "format(spec, values...)",
        "A string formatted like `printf`.",
    ),
    f(
        "formatdate",
        "formatdate(spec, timestamp)",
        "An RFC 3339 timestamp in another format.",
    ),
    f(
        "formatlist",
        "formatlist(spec, values...)",
        "`format` over lists, element by element.",
    ),
    f("homedir", "homedir()", "The user's home folder."),
    f(
        "indent",
        "indent(spaces, str)",
        "Every line but the first indented by `spaces`.",
    ),
    f(
        "index",
        "index(list, value)",
        "The index of `value` in `list`.",
    ),
    f(
        "join",
        "join(sep, list)",
        "The strings of `list` joined with `sep`.",
    ),
    f("jsondecode", "jsondecode(str)", "JSON text as a value."),
    f("jsonencode", "jsonencode(value)", "A value as JSON text."),
    f("keys", "keys(map)", "The keys of a map, sorted."),
    f(
        "length",
        "length(value)",
        "The number of elements of a list or map, or characters of a string.",
    ),
    f(
        "lookup",
        "lookup(map, key, default)",
        "`map[key]`, or `default`.",
    ),
    f("lower", "lower(str)", "`str` in lower case."),
    f("max", "max(nums...)", "The largest number."),
    f(
        "merge",
        "merge(maps...)",
        "The maps merged; later keys win.",
    ),
    f("min", "min(nums...)", "The smallest number."),
    f("notequal", "notequal(a, b)", "Whether two values differ."),
    f(
        "regex",
        "regex(pattern, str)",
        "The match of a regular expression.",
    ),
    f(
        "regex_replace",
        "regex_replace(str, pattern, replacement)",
        "`str` with the matches of `pattern` replaced.",
    ),
    f(
        "regexall",
        "regexall(pattern, str)",
        "All matches of a regular expression.",
    ),
    f(
        "replace",
        "replace(str, substr, replacement)",
        "`str` with every `substr` replaced.",
    ),
    f("reverse", "reverse(list)", "`list` in reverse order."),
    f(
        "sanitize",
        "sanitize(str)",
        "`str` with every character that is not a letter, digit or `_` replaced by `_`.",
    ),
    f("setunion", "setunion(sets...)", "The union of sets."),
    f(
        "slice",
        "slice(list, start, end)",
        "The elements from `start` up to `end`.",
    ),
    f("sort", "sort(list)", "The strings of `list`, sorted."),
    f("split", "split(sep, str)", "`str` split at every `sep`."),
    f(
        "strlen",
        "strlen(str)",
        "The number of characters of `str`.",
    ),
    f(
        "substr",
        "substr(str, offset, length)",
        "`length` characters of `str` from `offset`.",
    ),
    f(
        "timeadd",
        "timeadd(timestamp, duration)",
        "A timestamp plus a duration (`1h`).",
    ),
    f("timestamp", "timestamp()", "The current time (RFC 3339)."),
    f("title", "title(str)", "`str` with every word capitalised."),
    f(
        "trim",
        "trim(str, chars)",
        "`str` without the given characters at both ends.",
    ),
    f(
        "trimprefix",
        "trimprefix(str, prefix)",
        "`str` without `prefix`.",
    ),
    f(
        "trimspace",
        "trimspace(str)",
        "`str` without surrounding white space.",
    ),
    f(
        "trimsuffix",
        "trimsuffix(str, suffix)",
        "`str` without `suffix`.",
    ),
    f("upper", "upper(str)", "`str` in upper case."),
    f(
        "urlencode",
        "urlencode(str)",
        "`str` escaped for a URL query.",
    ),
    f("uuidv4", "uuidv4()", "A random UUID."),
    f(
        "values",
        "values(map)",
        "The values of a map, in key order.",
    ),
    f(
        "zipmap",
        "zipmap(keys, values)",
        "A map from a list of keys and a list of values.",
    ),
];

pub fn function(name: &str) -> Option<&'static FuncDoc> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Exporter types of `output` and cache backends of `cache-to` /
/// `cache-from`, with what each does.
pub const OUTPUT_TYPES: &[(&str, &str)] = &[
    (
        "image",
        "an image in the builder's image store (`push=true` to push it)",
    ),
    (
        "registry",
        "an image pushed to its registry (`type=image,push=true`)",
    ),
    (
        "docker",
        "a Docker image tarball, loaded into the engine without `dest`",
    ),
    ("oci", "an OCI image layout tarball (`dest=…`)"),
    ("local", "the result's files in a folder (`dest=…`)"),
    ("tar", "the result's files as a tarball (`dest=…`)"),
    ("cacheonly", "nothing: the result stays in the build cache"),
];

pub const CACHE_TYPES: &[(&str, &str)] = &[
    ("inline", "cache metadata inside the image (export only)"),
    ("registry", "cache as a separate image (`ref=…`)"),
    ("local", "cache in a local folder (`dest=…` / `src=…`)"),
    ("gha", "GitHub Actions cache"),
    ("s3", "an S3 bucket"),
    ("azblob", "Azure Blob Storage"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_attributes_find_the_nearest_known_name() {
        assert_eq!(nearest_attr("target", "dockrfile"), Some("dockerfile"));
        assert_eq!(nearest_attr("target", "platform"), Some("platforms"));
        assert_eq!(nearest_attr("target", "cacheto"), Some("cache-to"));
        assert_eq!(nearest_attr("target", "zzzzzzzz"), None);
    }

    #[test]
    fn tables_have_no_duplicates() {
        for b in BLOCKS {
            let mut names: Vec<&str> = b.attrs.iter().map(|a| a.name).collect();
            let len = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), len, "{}", b.name);
        }
        let mut f: Vec<&str> = FUNCTIONS.iter().map(|f| f.name).collect();
        let len = f.len();
        f.sort_unstable();
        f.dedup();
        assert_eq!(f.len(), len);
    }
}
