//! `textDocument/diagnostic` (pull diagnostics). The result id is the
//! document's generation and the settings epoch, so an unchanged document
//! answers `unchanged`. Unopened documents get an empty report.

use ls_types::{
    DocumentDiagnosticParams, DocumentDiagnosticReport, DocumentDiagnosticReportResult,
    FullDocumentDiagnosticReport, RelatedFullDocumentDiagnosticReport,
    RelatedUnchangedDocumentDiagnosticReport, UnchangedDocumentDiagnosticReport,
};

use crate::lsp::analysis;
use crate::lsp::builds::selection::findings;
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
                        session.builds.epoch()
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
    let ignore = session
        .ignores
        .for_document(&params.text_document.uri)
        .await;
    let doc_uri = &params.text_document.uri;
    let mut items = match findings::is_bake_uri(doc_uri) {
        true => Vec::new(),
        false => analysis::diagnostics(&doc, &settings, ignore, enc),
    };
    items.extend(findings::diagnostics_pulled(session, doc_uri, &doc, enc).await);
    let uri = params.text_document.uri.as_str();
    items.extend(session.builds.failure_diagnostics(uri, doc.text(), enc));
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
