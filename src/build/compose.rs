//! Compose files: the names `docker compose` and `docker buildx bake` look
//! for. (Reading their `services.*.build` sections into build targets is
//! issue #16.)

use std::path::Path;

/// The Compose file names, in the order `docker compose` prefers them,
/// each followed by its override companion.
pub const COMPOSE_FILE_NAMES: [&str; 8] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// Whether a path names a Compose file (by its file name only).
pub fn is_compose_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| COMPOSE_FILE_NAMES.contains(&n))
}
