//! The build history of a builder, for every front end: its BuildKit's
//! build records (`buildkit::history`), through the builder's driver, and
//! one record's report with its steps.

use super::{BuilderError, NodeGroup};
use crate::buildkit::{history, Client};
use crate::insight::history::HistoryBuild;

/// Records kept in a list (the daemon may keep many more).
pub const MAX_LISTED: usize = 50;

async fn client(ng: &NodeGroup) -> Result<Client, BuilderError> {
    let driver = super::status::build_driver(ng, None).await?;
    Ok(Client::connect(driver).await?)
}

/// The builder's recent builds, newest first; BuildKit before 0.11 answers
/// `BuildkitError::Unsupported` with [`history::NO_HISTORY`].
pub async fn list(ng: &NodeGroup) -> Result<Vec<HistoryBuild>, BuilderError> {
    let client = client(ng).await?;
    let mut builds = history::list(&client).await?;
    builds.truncate(MAX_LISTED);
    Ok(builds)
}

/// The markdown report of the build `reference` of the builder.
pub async fn report(ng: &NodeGroup, reference: &str) -> Result<String, BuilderError> {
    let client = client(ng).await?;
    let builds = history::list(&client).await?;
    let build = builds
        .iter()
        .find(|b| b.r#ref == reference)
        .ok_or_else(|| {
            BuilderError::Invalid(format!(
                "no build record {reference} on builder {}",
                ng.name
            ))
        })?;
    let steps = history::steps(&client, build).await?;
    Ok(build.report(&ng.name, &steps))
}
