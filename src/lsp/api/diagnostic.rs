//! `textDocument/diagnostic` (pull diagnostics). The result id is the
//! document's generation, the settings epoch and the pull epoch (builds,
//! builder and ignore-file changes), so an unchanged document answers
//! `unchanged`. Unopened documents get an empty report.

use ls_types::{
    DocumentDiagnosticParams, DocumentDiagnosticReport, DocumentDiagnosticReportResult,
    FullDocumentDiagnosticReport, RelatedFullDocumentDiagnosticReport,
    RelatedUnchangedDocumentDiagnosticReport, UnchangedDocumentDiagnosticReport,
};

use crate::lsp::diagnostics;
use crate::lsp::session::Session;

pub async fn handle(
    session: &Session,
    params: DocumentDiagnosticParams,
) -> DocumentDiagnosticReportResult {
    let found = {
        let state = session.state();
        state
            .documents
            .get(params.text_document.uri.as_str())
            .map(|d| {
                (
                    d.clone(),
                    format!(
                        "{}-{}-{}",
                        d.generation(),
                        state.settings_epoch,
                        session
                            .pull_epoch
                            .load(std::sync::atomic::Ordering::Relaxed)
                    ),
                    state.settings(),
                    state.features.encoding,
                )
            })
    };
    let Some((doc, result_id, settings, enc)) = found else {
        return full(None, Vec::new());
    };
    if params.previous_result_id.as_deref() == Some(result_id.as_str()) {
        return DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Unchanged(
            RelatedUnchangedDocumentDiagnosticReport {
                related_documents: None,
                unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport {
                    result_id,
                },
            },
        ));
    }
    let items =
        diagnostics::collect(session, &params.text_document.uri, &doc, &settings, enc).await;
    full(Some(result_id), items)
}

fn full(
    result_id: Option<String>,
    items: Vec<ls_types::Diagnostic>,
) -> DocumentDiagnosticReportResult {
    DocumentDiagnosticReportResult::Report(DocumentDiagnosticReport::Full(
        RelatedFullDocumentDiagnosticReport {
            related_documents: None,
            full_document_diagnostic_report: FullDocumentDiagnosticReport { result_id, items },
        },
    ))
}
