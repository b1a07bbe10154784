//! The `LanguageServer` implementation: a thin dispatcher from protocol
//! methods to the handlers in `api/`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ls_types::{
    CodeActionParams, CodeActionResponse, CodeLens, CodeLensParams, CompletionParams,
    CompletionResponse, DidChangeConfigurationParams, DidChangeTextDocumentParams,
    DidChangeWatchedFilesParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams,
    DidSaveTextDocumentParams, DocumentDiagnosticParams, DocumentDiagnosticReportResult,
    DocumentFormattingParams, DocumentHighlight, DocumentHighlightParams, DocumentSymbolParams,
    DocumentSymbolResponse, ExecuteCommandParams, FoldingRange, FoldingRangeParams,
    GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverParams, InitializeParams,
    InitializeResult, InitializedParams, LSPAny, Location, PrepareRenameResponse, ReferenceParams,
    RenameParams, SemanticTokensParams, SemanticTokensResult, TextDocumentPositionParams, TextEdit,
    WorkDoneProgressCancelParams, WorkspaceEdit,
};
use ls_types::{
    CompletionItem, DocumentLink, DocumentLinkParams, DocumentOnTypeFormattingParams,
    DocumentRangeFormattingParams, InlayHint, InlayHintParams, SignatureHelp, SignatureHelpParams,
};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::{Client, LanguageServer};

use super::api;
use super::capabilities::DiagnosticMode;
use super::logging;
use super::session::Session;

/// Set once the client sent `shutdown`: the process exits 0 only then (LSP:
/// `exit` without `shutdown` exits 1).
static SHUTDOWN_REQUESTED: AtomicBool = AtomicBool::new(false);

pub fn shutdown_requested() -> bool {
    SHUTDOWN_REQUESTED.load(Ordering::SeqCst)
}

/// Options fixed for the life of the process (from the command line).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServeOptions {
    /// Used unless the client asks otherwise in `initializationOptions`.
    pub diagnostic_mode: DiagnosticMode,
    /// Debounce used until (and unless) the client's settings set one.
    pub debounce_ms: Option<u64>,
    /// Start in Restricted Mode unless the client says the workspace is
    /// trusted (`lsp::trust`).
    pub restricted: bool,
}

pub struct Server {
    client: Client,
    session: Arc<Session>,
    options: ServeOptions,
}

impl Server {
    /// Must be called inside a tokio runtime: it starts the task that
    /// forwards log lines to the client.
    /// `session` is shared with the transport (see `transport::sanitize`).
    pub fn new(client: Client, options: ServeOptions, session: Arc<Session>) -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        logging::forward_to(tx);
        let forward = client.clone();
        tokio::spawn(async move {
            while let Some((typ, message)) = rx.recv().await {
                forward.log_message(typ, message).await;
            }
        });
        session.trust.set(!options.restricted);
        crate::lsp::diagnostics::attach(&session, client.clone());
        if let Some(ms) = options.debounce_ms {
            let mut state = session.state();
            state.defaults.debounce_ms = ms;
            state.client_settings.debounce_ms = ms;
        }
        Server {
            client,
            session,
            options,
        }
    }
}

impl Server {
    /// `window/workDoneProgress/cancel`, which tower-lsp-server 0.23 does not
    /// route itself (registered as a custom method in `serve_stdio`).
    pub async fn work_done_progress_cancel(&self, params: WorkDoneProgressCancelParams) {
        crate::lsp::builds::run::cancel_progress(&self.session, &params.token);
    }

    /// `buildkit/setTrust` (registered as a custom method in `serve_stdio`).
    pub async fn set_trust(&self, params: crate::lsp::trust::SetTrustParams) {
        crate::lsp::trust::set(&self.session, &self.client, params.trusted);
    }
}

impl LanguageServer for Server {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        Ok(api::initialize::handle(
            &self.session,
            params,
            self.options.diagnostic_mode,
        ))
    }

    async fn initialized(&self, _: InitializedParams) {
        api::initialized::handle(&self.session, &self.client).await;
        crate::lsp::builds::selection::watch::start(&self.session, &self.client);
    }

    async fn shutdown(&self) -> Result<()> {
        tracing::info!("shutdown requested");
        SHUTDOWN_REQUESTED.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        api::did_open::handle(&self.session, &self.client, params);
        self.session.text_sync_applied();
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        api::did_change::handle(&self.session, &self.client, params);
        self.session.text_sync_applied();
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        api::did_close::handle(&self.session, &self.client, params).await;
        self.session.text_sync_applied();
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        api::did_save::handle(&self.session, &self.client, params);
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        api::did_change_watched_files::handle(&self.session, &self.client, params);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        api::did_change_configuration::handle(&self.session, &self.client, params).await;
    }

    async fn diagnostic(
        &self,
        params: DocumentDiagnosticParams,
    ) -> Result<DocumentDiagnosticReportResult> {
        Ok(api::diagnostic::handle(&self.session, params).await)
    }

    async fn code_lens(&self, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>> {
        Ok(Some(api::code_lens::handle(&self.session, params)))
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        Ok(api::execute_command::handle(&self.session, &self.client, params).await?)
    }

    async fn document_symbol(
        &self,
        params: DocumentSymbolParams,
    ) -> Result<Option<DocumentSymbolResponse>> {
        Ok(api::document_symbol::handle(&self.session, params))
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        Ok(Some(api::folding_range::handle(&self.session, params)))
    }

    async fn goto_definition(
        &self,
        params: GotoDefinitionParams,
    ) -> Result<Option<GotoDefinitionResponse>> {
        Ok(api::goto_definition::handle(&self.session, params))
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        Ok(Some(api::references::handle(&self.session, params)))
    }

    async fn document_highlight(
        &self,
        params: DocumentHighlightParams,
    ) -> Result<Option<Vec<DocumentHighlight>>> {
        Ok(Some(api::document_highlight::handle(&self.session, params)))
    }

    async fn prepare_rename(
        &self,
        params: TextDocumentPositionParams,
    ) -> Result<Option<PrepareRenameResponse>> {
        Ok(api::rename::prepare(&self.session, params))
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        api::rename::handle(&self.session, params)
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        Ok(api::hover::handle(&self.session, params))
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        Ok(Some(CompletionResponse::Array(api::completion::handle(
            &self.session,
            params,
        ))))
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        Ok(Some(api::code_action::handle(&self.session, params)))
    }

    async fn semantic_tokens_full(
        &self,
        params: SemanticTokensParams,
    ) -> Result<Option<SemanticTokensResult>> {
        Ok(Some(SemanticTokensResult::Tokens(
            api::semantic_tokens::handle(&self.session, params),
        )))
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        Ok(Some(api::formatting::handle(&self.session, params)))
    }

    async fn completion_resolve(&self, item: CompletionItem) -> Result<CompletionItem> {
        Ok(api::completion_resolve::handle(&self.session, item))
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        Ok(api::signature_help::handle(&self.session, params))
    }

    async fn document_link(&self, params: DocumentLinkParams) -> Result<Option<Vec<DocumentLink>>> {
        Ok(Some(api::document_link::handle(&self.session, params)))
    }

    async fn document_link_resolve(&self, link: DocumentLink) -> Result<DocumentLink> {
        Ok(api::document_link::resolve(link))
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        Ok(Some(api::inlay_hint::handle(&self.session, params)))
    }

    async fn range_formatting(
        &self,
        params: DocumentRangeFormattingParams,
    ) -> Result<Option<Vec<TextEdit>>> {
        Ok(Some(api::range_formatting::handle(&self.session, params)))
    }

    async fn on_type_formatting(
        &self,
        params: DocumentOnTypeFormattingParams,
    ) -> Result<Option<Vec<TextEdit>>> {
        Ok(Some(api::on_type_formatting::handle(&self.session, params)))
    }
}
