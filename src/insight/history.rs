//! A build from the daemon's build history (BuildKit's build records, kept
//! for builds from any client) as the editor shows it: one line per build
//! for a picker, and a read-only markdown report with its steps, their
//! timings and cache state. Pure: the buildkit layer reads the records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::seconds;

/// One step of a recorded build, folded from its progress log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryStep {
    pub name: String,
    pub cached: bool,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
}

/// One build record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryBuild {
    /// BuildKit's build ref (the id `docker buildx history` shows).
    pub r#ref: String,
    pub frontend: String,
    pub target: Option<String>,
    /// The Dockerfile's name (`filename` frontend attribute).
    pub filename: Option<String>,
    /// Seconds since the Unix epoch.
    pub created: Option<u64>,
    pub duration_ms: Option<u64>,
    /// `None` while the build runs.
    pub ok: Option<bool>,
    pub error: Option<String>,
    pub cached_steps: u32,
    pub total_steps: u32,
    /// The image name or digest the exporter reported.
    pub image: Option<String>,
    /// The content-store digest of the progress log, when kept.
    #[serde(skip)]
    pub logs: Option<String>,
}

/// Seconds since the epoch of a time.
pub fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs()
}

fn clock(secs: u64) -> String {
    let s = secs % 86_400;
    let days = secs / 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

impl HistoryBuild {
    fn status(&self) -> &'static str {
        match self.ok {
            Some(true) => "completed",
            Some(false) => "failed",
            None => "running",
        }
    }

    /// One line for a picker: `✔ target · 2026-12-08 00:41:03 UTC · 2.3 s · 3/7 cached`.
    pub fn label(&self) -> String {
        let mark = match self.ok {
            Some(true) => "✔",
            Some(false) => "✖",
            None => "…",
        };
        let what = self
            .target
            .as_deref()
            .or(self.filename.as_deref())
            .unwrap_or("build");
        let when = self.created.map(clock).unwrap_or_default();
        let took = self
            .duration_ms
            .map(seconds)
            .unwrap_or_else(|| "running".into());
        format!(
            "{mark} {what} · {when} · {took} · {}/{} cached",
            self.cached_steps, self.total_steps
        )
    }

    /// The report: what was built, its status, and its steps.
    pub fn report(&self, builder: &str, steps: &[HistoryStep]) -> String {
        let mut out = format!("# Build {}\n\n", self.r#ref);
        let row = |k: &str, v: &str| format!("| {k} | {v} |\n");
        out.push_str("| | |\n|---|---|\n");
        out.push_str(&row("builder", &format!("`{builder}`")));
        out.push_str(&row("status", self.status()));
        if let Some(f) = &self.filename {
            out.push_str(&row("Dockerfile", &format!("`{f}`")));
        }
        if let Some(t) = &self.target {
            out.push_str(&row("target", &format!("`{t}`")));
        }
        if let Some(c) = self.created {
            out.push_str(&row("started", &clock(c)));
        }
        if let Some(d) = self.duration_ms {
            out.push_str(&row("duration", &seconds(d)));
        }
        out.push_str(&row(
            "steps",
            &format!("{} ({} cached)", self.total_steps, self.cached_steps),
        ));
        if let Some(i) = &self.image {
            out.push_str(&row("image", &format!("`{i}`")));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("\n**Error:** {}\n", e.replace('\n', " ")));
        }
        out.push_str("\n## Steps\n\n");
        if steps.is_empty() {
            out.push_str("The daemon kept no progress log for this build.\n");
            return out;
        }
        out.push_str("| step | result | time |\n|---|---|---:|\n");
        for s in steps {
            let result = match (&s.error, s.cached, s.duration_ms) {
                (Some(_), _, _) => "failed",
                (None, true, _) => "cached",
                (None, false, Some(_)) => "ran",
                (None, false, None) => "not finished",
            };
            let time = match (s.cached, s.duration_ms) {
                (false, Some(ms)) => seconds(ms),
                _ => String::new(),
            };
            out.push_str(&format!(
                "| {} | {result} | {time} |\n",
                s.name.replace('|', "\\|")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lists_steps_with_their_cache_state_and_time() {
        let b = HistoryBuild {
            r#ref: "abc".into(),
            target: Some("app".into()),
            created: Some(1_765_154_463),
            duration_ms: Some(2300),
            ok: Some(true),
            cached_steps: 1,
            total_steps: 2,
            ..HistoryBuild::default()
        };
        assert_eq!(
            b.label(),
            "✔ app · 2025-12-08 00:41:03 UTC · 2.3 s · 1/2 cached"
        );
        let steps = [
            HistoryStep {
                name: "[1/2] FROM a".into(),
                cached: true,
                ..HistoryStep::default()
            },
            HistoryStep {
                name: "[2/2] RUN x | y".into(),
                duration_ms: Some(1500),
                ..HistoryStep::default()
            },
        ];
        let r = b.report("default", &steps);
        assert!(r.starts_with("# Build abc\n"), "{r}");
        assert!(r.contains("| status | completed |"), "{r}");
        assert!(r.contains("| [1/2] FROM a | cached |  |\n"), "{r}");
        assert!(r.contains("| [2/2] RUN x \\| y | ran | 1.5 s |\n"), "{r}");
    }
}
