//! `textDocument/documentLink` and `documentLink/resolve`: each FROM image
//! links to its page on the registry's web site. The list only carries the
//! image's repository (`data`); the address is made on resolve, for the
//! links the user actually hovers or follows.
//!
//! Which registries have a web page per repository, and where:
//!
//! | registry | page |
//! | --- | --- |
//! | Docker Hub, official image (`nginx`, `library/nginx`) | `https://hub.docker.com/_/NAME` |
//! | Docker Hub, namespaced (`grafana/grafana`) | `https://hub.docker.com/r/NS/NAME` |
//! | `ghcr.io/OWNER/NAME` | `https://github.com/OWNER/NAME/pkgs/container/NAME` (GitHub's package page) |
//! | `quay.io/NS/NAME` | `https://quay.io/repository/NS/NAME` |
//! | `mcr.microsoft.com/PATH` | `https://mcr.microsoft.com/artifact/mar/PATH` |
//! | `public.ecr.aws/NS/NAME` | `https://gallery.ecr.aws/NS/NAME` |
//!
//! Any other registry gets no link (its web UI, if any, is unknown). No link
//! either for `scratch`, stage names, or a repository written with
//! variables (`${BASE_IMAGE}`: its value is only known at build time).

use ls_types::{DocumentLink, DocumentLinkParams, Uri};
use serde_json::Value;

use crate::dockerfile::model::Model;
use crate::dockerfile::{Dockerfile, Span};
use crate::lsp::position::range_to_lsp;
use crate::lsp::session::Session;

pub fn handle(session: &Session, params: DocumentLinkParams) -> Vec<DocumentLink> {
    let Some(snap) = session.snapshot(&params.text_document.uri) else {
        return Vec::new();
    };
    let enc = snap.features.encoding;
    links(&snap.df, &snap.model)
        .into_iter()
        .map(|(span, repo)| DocumentLink {
            range: range_to_lsp(snap.df.range_in(span, enc)),
            target: None,
            tooltip: Some(format!("Open {repo} on its registry's web site")),
            data: Some(Value::String(repo)),
        })
        .collect()
}

/// Fills in the target of a link made by [`handle`].
pub fn resolve(mut link: DocumentLink) -> DocumentLink {
    if link.target.is_none() {
        link.target = link
            .data
            .as_ref()
            .and_then(Value::as_str)
            .and_then(page)
            .and_then(|url| url.parse::<Uri>().ok());
    }
    link
}

/// The span of the repository part of each FROM image that has a web page,
/// and that repository (`registry/path`, or the Hub path).
pub fn links(df: &Dockerfile, model: &Model) -> Vec<(Span, String)> {
    let mut out = Vec::new();
    for stage in &model.stages {
        // A FROM naming an earlier stage is not an image.
        if stage.parent.is_some() {
            continue;
        }
        let image = &stage.base;
        let text = df.text(image.span);
        // The written word: the logical value only differs across a line
        // continuation, which no image reference worth linking has.
        if text != image.value.as_str() {
            continue;
        }
        let repo_len = repository_len(text);
        let repo = &text[..repo_len];
        if repo.is_empty() || repo.contains('$') || repo.eq_ignore_ascii_case("scratch") {
            continue;
        }
        if page(repo).is_some() {
            out.push((
                Span::new(image.span.start, image.span.start + repo_len),
                repo.to_string(),
            ));
        }
    }
    out
}

/// The length of the repository part of an image reference: before the
/// `@digest`, and before a `:tag` in the last path component (a `:` in the
/// first component is a registry port).
fn repository_len(image: &str) -> usize {
    let no_digest = image.find('@').unwrap_or(image.len());
    let last_slash = image[..no_digest].rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..no_digest].find(':') {
        Some(i) => last_slash + i,
        None => no_digest,
    }
}

/// The web page of a repository, as the module docs list them.
pub fn page(repo: &str) -> Option<String> {
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
            assert_eq!(page(repo).as_deref(), want, "{repo}");
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
