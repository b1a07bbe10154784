//! Capability negotiation: what the client can take (read once from
//! `initialize`) and what this server offers in return.

use ls_types::{
    ClientCapabilities, CodeActionKind, CodeActionOptions, CodeActionProviderCapability,
    CodeLensOptions, CompletionOptions, DiagnosticOptions, DiagnosticServerCapabilities,
    ExecuteCommandOptions, FoldingRangeProviderCapability, HoverProviderCapability, MarkupKind,
    OneOf, PositionEncodingKind, RenameOptions, SemanticTokensFullOptions, SemanticTokensOptions,
    SemanticTokensServerCapabilities, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions,
    WorkDoneProgressOptions,
};

use super::commands;
use super::position::Encoding;

/// The characters that trigger on-type formatting: the first is the
/// capability's `firstTriggerCharacter`.
pub const ON_TYPE_FORMATTING_TRIGGERS: [&str; 3] = ["\n", "\\", "`"];

/// How diagnostics reach the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiagnosticMode {
    /// `textDocument/publishDiagnostics` only (the default: every client shows them).
    #[default]
    Push,
    /// `textDocument/diagnostic` only; advertised as `diagnosticProvider`.
    Pull,
    /// Both; for clients that keep the two apart.
    Both,
}

impl DiagnosticMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "push" => Some(Self::Push),
            "pull" => Some(Self::Pull),
            "both" => Some(Self::Both),
            _ => None,
        }
    }

    pub fn pushes(self) -> bool {
        matches!(self, Self::Push | Self::Both)
    }

    pub fn pulls(self) -> bool {
        matches!(self, Self::Pull | Self::Both)
    }
}

/// What the client said it supports, reduced to what the server acts on.
#[derive(Debug, Clone, Default)]
pub struct ClientFeatures {
    pub encoding: Encoding,
    /// `window.workDoneProgress`: progress may only be sent when true.
    pub work_done_progress: bool,
    /// `workspace.codeLens.refreshSupport`.
    pub code_lens_refresh: bool,
    /// `workspace.inlayHint.refreshSupport`.
    pub inlay_hint_refresh: bool,
    /// `workspace.diagnostics.refreshSupport`: pulled diagnostics can be
    /// invalidated by the server.
    pub diagnostic_refresh: bool,
    /// Hover contents may be markdown.
    pub hover_markdown: bool,
    /// Completion documentation may be markdown.
    pub completion_markdown: bool,
    /// Completion items may be snippets.
    pub snippets: bool,
    /// `workspace.configuration`: settings can be pulled.
    pub configuration: bool,
    /// `textDocument.documentSymbol.hierarchicalDocumentSymbolSupport`.
    pub hierarchical_symbols: bool,
    /// `workspace.didChangeWatchedFiles.dynamicRegistration`: the server may
    /// ask to be told about `.dockerignore` changes.
    pub watch_files: bool,
    pub diagnostic_mode: DiagnosticMode,
}

impl ClientFeatures {
    /// Reads the client's capabilities. `requested_mode` comes from the
    /// command line or `initializationOptions.diagnosticMode`.
    pub fn from_client(caps: &ClientCapabilities, requested_mode: DiagnosticMode) -> Self {
        let encodings = caps
            .general
            .as_ref()
            .and_then(|g| g.position_encodings.as_ref());
        let encoding = match encodings {
            Some(list) if list.contains(&PositionEncodingKind::UTF8) => Encoding::Utf8,
            _ => Encoding::Utf16,
        };
        let td = caps.text_document.as_ref();
        let ws = caps.workspace.as_ref();
        let markdown = |formats: Option<&Vec<MarkupKind>>| {
            formats.is_some_and(|f| f.contains(&MarkupKind::Markdown))
        };
        let completion_item = td
            .and_then(|t| t.completion.as_ref())
            .and_then(|c| c.completion_item.as_ref());
        ClientFeatures {
            encoding,
            work_done_progress: caps
                .window
                .as_ref()
                .and_then(|w| w.work_done_progress)
                .unwrap_or(false),
            code_lens_refresh: ws
                .and_then(|w| w.code_lens.as_ref())
                .and_then(|c| c.refresh_support)
                .unwrap_or(false),
            inlay_hint_refresh: ws
                .and_then(|w| w.inlay_hint.as_ref())
                .and_then(|c| c.refresh_support)
                .unwrap_or(false),
            diagnostic_refresh: ws
                .and_then(|w| w.diagnostics.as_ref())
                .and_then(|d| d.refresh_support)
                .unwrap_or(false),
            hover_markdown: markdown(
                td.and_then(|t| t.hover.as_ref())
                    .and_then(|h| h.content_format.as_ref()),
            ),
            completion_markdown: markdown(
                completion_item.and_then(|c| c.documentation_format.as_ref()),
            ),
            snippets: completion_item
                .and_then(|c| c.snippet_support)
                .unwrap_or(false),
            configuration: ws.and_then(|w| w.configuration).unwrap_or(false),
            hierarchical_symbols: td
                .and_then(|t| t.document_symbol.as_ref())
                .and_then(|d| d.hierarchical_document_symbol_support)
                .unwrap_or(false),
            watch_files: ws
                .and_then(|w| w.did_change_watched_files.as_ref())
                .and_then(|d| d.dynamic_registration)
                .unwrap_or(false),
            diagnostic_mode: requested_mode,
        }
    }

    /// The capabilities this server announces to a client with these features.
    pub fn server_capabilities(&self) -> ServerCapabilities {
        ServerCapabilities {
            position_encoding: Some(match self.encoding {
                Encoding::Utf8 => PositionEncodingKind::UTF8,
                Encoding::Utf16 => PositionEncodingKind::UTF16,
            }),
            text_document_sync: Some(TextDocumentSyncCapability::Options(
                TextDocumentSyncOptions {
                    open_close: Some(true),
                    change: Some(TextDocumentSyncKind::INCREMENTAL),
                    will_save: None,
                    will_save_wait_until: None,
                    // A saved `.dockerignore` re-reads its patterns; builds on
                    // save use it too.
                    save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                },
            )),
            diagnostic_provider: self.diagnostic_mode.pulls().then(|| {
                DiagnosticServerCapabilities::Options(DiagnosticOptions {
                    identifier: Some("buildkit-lsp".to_string()),
                    inter_file_dependencies: false,
                    workspace_diagnostics: false,
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                })
            }),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            completion_provider: Some(CompletionOptions {
                trigger_characters: Some(
                    ["-", "=", "$", "{", ",", " ", "#"]
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                ),
                resolve_provider: Some(true),
                ..CompletionOptions::default()
            }),
            code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
                code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
                work_done_progress_options: WorkDoneProgressOptions::default(),
                resolve_provider: Some(false),
            })),
            semantic_tokens_provider: Some(
                SemanticTokensServerCapabilities::SemanticTokensOptions(SemanticTokensOptions {
                    legend: super::token_legend::legend(),
                    full: Some(SemanticTokensFullOptions::Bool(true)),
                    range: None,
                    work_done_progress_options: WorkDoneProgressOptions::default(),
                }),
            ),
            document_formatting_provider: Some(OneOf::Left(true)),
            document_symbol_provider: Some(OneOf::Left(true)),
            folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
            definition_provider: Some(OneOf::Left(true)),
            references_provider: Some(OneOf::Left(true)),
            document_highlight_provider: Some(OneOf::Left(true)),
            rename_provider: Some(OneOf::Right(RenameOptions {
                prepare_provider: Some(true),
                work_done_progress_options: WorkDoneProgressOptions::default(),
            })),
            code_lens_provider: Some(CodeLensOptions {
                resolve_provider: Some(false),
            }),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: commands::names(),
                work_done_progress_options: WorkDoneProgressOptions::default(),
            }),
            signature_help_provider: Some(ls_types::SignatureHelpOptions {
                trigger_characters: Some(vec![" ".into(), "=".into(), "[".into()]),
                retrigger_characters: Some(vec![",".into()]),
                work_done_progress_options: WorkDoneProgressOptions::default(),
            }),
            document_link_provider: Some(ls_types::DocumentLinkOptions {
                resolve_provider: Some(true),
                work_done_progress_options: WorkDoneProgressOptions::default(),
            }),
            document_range_formatting_provider: Some(OneOf::Left(true)),
            inlay_hint_provider: Some(OneOf::Left(true)),
            document_on_type_formatting_provider: Some(ls_types::DocumentOnTypeFormattingOptions {
                first_trigger_character: ON_TYPE_FORMATTING_TRIGGERS[0].to_string(),
                more_trigger_character: Some(
                    ON_TYPE_FORMATTING_TRIGGERS[1..]
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                ),
            }),
            ..ServerCapabilities::default()
        }
    }
}
