//! Waits longer than [`super::TIMEOUT`], for requests that last as long as
//! a build (`buildkit.build` answers when the build ends).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Lsp;

impl Lsp {
    /// The response to `id`, waiting up to `limit`; `None` if none came.
    pub fn response_within(&self, id: i64, limit: Duration) -> Option<Value> {
        self.wait_within(limit, |inbox| {
            inbox.responses.iter().find(|r| r["id"] == id).cloned()
        })
    }

    /// The first notification of `method` whose params satisfy `pred`,
    /// waiting up to `limit`.
    pub fn notification_within(
        &self,
        method: &str,
        limit: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        self.wait_within(limit, |inbox| {
            inbox
                .notifications
                .iter()
                .filter(|n| n["method"] == method)
                .find(|n| pred(&n["params"]))
                .map(|n| n["params"].clone())
        })
    }

    pub(super) fn wait_within<T>(
        &self,
        limit: Duration,
        mut pred: impl FnMut(&super::Inbox) -> Option<T>,
    ) -> Option<T> {
        let (lock, cv) = &*self.inbox;
        let end = Instant::now() + limit;
        let mut inbox = lock.lock().unwrap();
        loop {
            if let Some(v) = pred(&inbox) {
                return Some(v);
            }
            let now = Instant::now();
            if now >= end || inbox.closed {
                return None;
            }
            inbox = cv.wait_timeout(inbox, end - now).unwrap().0;
        }
    }
}
