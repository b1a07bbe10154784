//! The editor surface: a language server on stdio. Holds documents, settings
//! and sessions; turns requests into calls on `dockerfile`, `build`, `builder`
//! and `buildkit`, and their events into LSP messages. No build logic here.
//!
//! Layout (after ruff's server): `session` owns documents and settings,
//! `api/` has one file per request or notification, `analysis` calls the
//! `dockerfile` module's pure functions and converts results to LSP types.
//! Architecture invariant: nothing but protocol is written to stdout, and no
//! input from the client can panic the server.

mod analysis;
mod api;
mod bake;
mod builds;
mod capabilities;
mod commands;
pub mod compose;
mod diagnostic_conv;
mod diagnostics;
mod docs;
mod document;
mod error;
mod ignore_files;
mod kind;
mod logging;
mod memory;
mod position;
mod progress;
mod server;
mod session;
mod settings;
mod token_legend;
mod transport;
mod trust;
mod uri;

use std::time::Duration;

pub use capabilities::DiagnosticMode;
pub use error::LspError;
pub use server::ServeOptions;

/// Serves the language server on stdin/stdout until the client sends `exit`
/// or closes stdin. Returns whether the client asked for `shutdown` first
/// (the exit status is 0 only then).
pub fn serve_stdio(options: ServeOptions) -> Result<bool, LspError> {
    logging::init();
    memory::tune_allocator();
    // One thread: analysis is fast and synchronous, and a single thread keeps
    // memory low; debounce timers still run concurrently.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LspError::Runtime)?;
    runtime.block_on(async move {
        // Shared with the transport, which answers documentSymbol itself.
        let session = std::sync::Arc::new(session::Session::default());
        let server_session = session.clone();
        let (service, socket) = tower_lsp_server::LspService::build(move |client| {
            server::Server::new(client, options, server_session)
        })
        .custom_method(
            "window/workDoneProgress/cancel",
            server::Server::work_done_progress_cancel,
        )
        .custom_method(trust::SET_TRUST, server::Server::set_trust)
        .finish();
        // stdin -> sanitize -> library -> frames -> stdout; see `transport`.
        let (to_library, library_in) = tokio::io::duplex(256 * 1024);
        let (library_out, from_library) = tokio::io::duplex(256 * 1024);
        let (out_tx, out_rx) = tokio::sync::mpsc::unbounded_channel();
        let mut shortcut = api::document_symbol::Shortcut::new(session.clone());
        let reader = tokio::spawn(transport::sanitize(
            tokio::io::stdin(),
            to_library,
            out_tx.clone(),
            move |body: &[u8]| shortcut.answer(body),
        ));
        let writer = tokio::spawn(transport::write_frames(tokio::io::stdout(), out_rx));
        // A `buildkit.build` request stays pending for the whole build; the
        // library's default of 4 requests at once would stall everything
        // else behind a few builds.
        let serve = tower_lsp_server::Server::new(library_in, library_out, socket)
            .concurrency_level(64)
            .serve(service);
        tokio::join!(serve, transport::frames(from_library, out_tx));
        // After `exit` the client may keep stdin open: stop reading it.
        reader.abort();
        let _ = reader.await;
        let _ = writer.await;
    });
    // The stdin reader is a blocking thread that may sit in `read` forever
    // once the client stops writing: do not wait for it.
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(server::shutdown_requested())
}
