//! What the editor sees of a running build: the plain build log (complete
//! lines, batched) and the work-done progress message and percentage, both
//! taken out by the caller at its own pace (the throttle lives there).

use std::collections::HashMap;

use crate::builder::run::RunEvent;
use crate::buildkit::{PlainRenderer, ProgressEvent};

#[derive(Debug, Default)]
struct Step {
    name: String,
    done: bool,
}

/// Collects a build's events into log text and progress.
#[derive(Debug, Default)]
pub struct Tracker {
    renderer: PlainRenderer,
    log: String,
    steps: HashMap<String, Step>,
    /// The step that started last and is still running.
    current: Option<String>,
    /// The step that finished last, shown when none runs.
    last_done: Option<String>,
    percentage: u32,
    changed: bool,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    pub fn observe(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Started { .. } | RunEvent::Insight(_) => {}
            RunEvent::Warning(w) => self.log.push_str(&format!("WARNING: {w}\n")),
            RunEvent::Pushing(tag) => self.log.push_str(&format!("pushing {tag}\n")),
            RunEvent::Progress(ev) => {
                self.log.push_str(&self.renderer.render(ev));
                if let ProgressEvent::Vertex(v) = ev {
                    let step = self.steps.entry(v.digest.clone()).or_default();
                    if step.name.is_empty() {
                        step.name = v.name.clone();
                    }
                    let done = v.cached || v.completed.is_some() || v.error.is_some();
                    if done && !step.done {
                        step.done = true;
                        self.last_done = Some(v.digest.clone());
                        if self.current.as_deref() == Some(v.digest.as_str()) {
                            self.current = None;
                        }
                    } else if !done && v.started.is_some() {
                        self.current = Some(v.digest.clone());
                    }
                    self.changed = true;
                }
            }
        }
    }

    /// The log text gathered since the last call (complete lines), if any.
    pub fn take_log(&mut self) -> Option<String> {
        (!self.log.is_empty()).then(|| std::mem::take(&mut self.log))
    }

    /// `(message, percentage)` when the steps changed since the last call:
    /// `[done/total] <step>`, the percentage never going down (BuildKit
    /// announces steps as it goes, so the total can grow).
    pub fn take_report(&mut self) -> Option<(String, u32)> {
        if !std::mem::take(&mut self.changed) {
            return None;
        }
        let total = self.steps.len();
        let done = self.steps.values().filter(|s| s.done).count();
        if let Some(pct) = (done * 100).checked_div(total) {
            self.percentage = self.percentage.max(pct as u32);
        }
        let shown = self.current.as_ref().or(self.last_done.as_ref());
        let name = shown
            .and_then(|d| self.steps.get(d))
            .map(|s| step_label(&s.name))
            .unwrap_or_default();
        Some((format!("[{done}/{total}] {name}"), self.percentage))
    }

    /// `(completed, total)` steps so far.
    pub fn counts(&self) -> (usize, usize) {
        let done = self.steps.values().filter(|s| s.done).count();
        (done, self.steps.len())
    }
}

/// A step's name without BuildKit's `[stage 2/3] ` prefix: the progress
/// message has its own count.
fn step_label(name: &str) -> &str {
    match name
        .strip_prefix('[')
        .and_then(|rest| rest.split_once("] "))
    {
        Some((_, rest)) => rest,
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use super::*;
    use crate::buildkit::progress::VertexEvent;

    fn at(ms: u64) -> Option<SystemTime> {
        Some(UNIX_EPOCH + Duration::from_millis(ms))
    }

    fn vertex(d: &str, name: &str, started: bool, completed: bool, cached: bool) -> RunEvent {
        RunEvent::Progress(ProgressEvent::Vertex(VertexEvent {
            digest: d.into(),
            name: name.into(),
            cached,
            started: started.then(|| at(1000)).flatten(),
            completed: completed.then(|| at(1500)).flatten(),
            error: None,
        }))
    }

    #[test]
    fn reports_count_steps_and_never_go_down() {
        let mut t = Tracker::new();
        assert_eq!(t.take_report(), None);
        t.observe(&vertex("a", "[1/2] FROM busybox:test", true, true, true));
        t.observe(&vertex("b", "[2/2] RUN echo hi", true, false, false));
        assert_eq!(t.take_report(), Some(("[1/2] RUN echo hi".into(), 50)));
        assert_eq!(t.take_report(), None);
        // A newly announced step grows the total: 1/3 would be 33 %.
        t.observe(&vertex("c", "exporting to image", false, false, false));
        assert_eq!(t.take_report(), Some(("[1/3] RUN echo hi".into(), 50)));
        t.observe(&vertex("b", "[2/2] RUN echo hi", true, true, false));
        t.observe(&vertex("c", "exporting to image", true, true, false));
        assert_eq!(
            t.take_report(),
            Some(("[3/3] exporting to image".into(), 100))
        );
        assert_eq!(t.counts(), (3, 3));
    }

    #[test]
    fn log_is_the_plain_rendering_in_complete_lines() {
        let mut t = Tracker::new();
        assert_eq!(t.take_log(), None);
        t.observe(&RunEvent::Warning("No output specified".into()));
        t.observe(&vertex("b", "[2/2] RUN echo hi", true, false, false));
        t.observe(&RunEvent::Progress(ProgressEvent::Log {
            vertex: "b".into(),
            stream: 1,
            data: b"hi\npart".to_vec(),
            at: at(1250),
        }));
        assert_eq!(
            t.take_log().as_deref(),
            Some("WARNING: No output specified\n#1 [2/2] RUN echo hi\n#1 0.250 hi\n")
        );
        t.observe(&vertex("b", "[2/2] RUN echo hi", true, true, false));
        assert_eq!(t.take_log().as_deref(), Some("#1 part\n#1 DONE 0.5s\n\n"));
    }
}
