//! Work-done progress (`window/workDoneProgress/create` + `$/progress`) for
//! long server-side work: builds and builder bootstraps. Only offered when
//! the client advertised `window.workDoneProgress`; every call is a no-op
//! otherwise, so callers never branch on it.

use ls_types::notification::Progress;
use ls_types::{
    NumberOrString, ProgressParams, ProgressParamsValue, WorkDoneProgress, WorkDoneProgressBegin,
    WorkDoneProgressEnd, WorkDoneProgressReport,
};
use tower_lsp_server::Client;

use super::session::Session;

/// One progress the client shows until [`WorkProgress::end`].
pub struct WorkProgress {
    client: Client,
    /// `None`: the client takes no progress (or refused the token).
    token: Option<NumberOrString>,
    cancellable: bool,
    /// Whether reports carry a percentage (the begin then starts at 0).
    bounded: bool,
}

impl WorkProgress {
    /// Creates the token (tower-lsp-server's own `begin()` does not) and
    /// sends the begin notification.
    pub async fn begin(
        session: &Session,
        client: &Client,
        token: String,
        title: String,
        cancellable: bool,
        bounded: bool,
    ) -> WorkProgress {
        let mut progress = WorkProgress {
            client: client.clone(),
            token: None,
            cancellable,
            bounded,
        };
        if !session.state().features.work_done_progress {
            return progress;
        }
        let token = NumberOrString::String(token);
        if let Err(e) = client.create_work_done_progress(token.clone()).await {
            tracing::warn!("client refused the progress token: {e}");
            return progress;
        }
        progress.token = Some(token);
        let begin = WorkDoneProgressBegin {
            title,
            cancellable: Some(cancellable),
            message: bounded.then(|| "starting".to_string()),
            percentage: bounded.then_some(0),
        };
        progress.send(WorkDoneProgress::Begin(begin)).await;
        progress
    }

    /// The token, when the client shows this progress.
    pub fn token(&self) -> Option<&NumberOrString> {
        self.token.as_ref()
    }

    /// A step; `percentage` is dropped for unbounded progress.
    pub async fn report(&self, message: String, percentage: u32) {
        let value = WorkDoneProgress::Report(WorkDoneProgressReport {
            cancellable: Some(self.cancellable),
            message: Some(message),
            percentage: self.bounded.then_some(percentage),
        });
        self.send(value).await;
    }

    pub async fn end(self, message: String) {
        let value = WorkDoneProgress::End(WorkDoneProgressEnd {
            message: Some(message),
        });
        self.send(value).await;
    }

    async fn send(&self, value: WorkDoneProgress) {
        let Some(token) = &self.token else {
            return;
        };
        self.client
            .send_notification::<Progress>(ProgressParams {
                token: token.clone(),
                value: ProgressParamsValue::WorkDone(value),
            })
            .await;
    }
}
