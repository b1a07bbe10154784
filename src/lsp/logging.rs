//! Logging of the language server: every event goes to stderr, and (once a
//! client is connected) to `window/logMessage`. Stdout carries the protocol
//! and nothing else. The level is one atomic, so `buildkit.logLevel` can change
//! it at run time.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

use ls_types::MessageType;
use tokio::sync::mpsc::UnboundedSender;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use super::settings::LogLevel;

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Info as u8);
static FORWARD: OnceLock<UnboundedSender<(MessageType, String)>> = OnceLock::new();

/// Sets the level for stderr and the client log.
pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Installs the stderr logger (once per process; later calls keep the first).
/// `BUILDKIT_LSP_LOG` (error|warn|info|debug|trace) sets the starting level.
pub fn init() {
    if let Some(l) = std::env::var("BUILDKIT_LSP_LOG")
        .ok()
        .and_then(|v| LogLevel::parse(&v))
    {
        set_level(l);
    }
    let subscriber = tracing_subscriber::registry().with(ServerLog);
    let _ = tracing::subscriber::set_global_default(subscriber);
}

/// Routes log events to the client from now on (the receiving end forwards
/// them as `window/logMessage`). Only the first connected client gets them.
pub fn forward_to(tx: UnboundedSender<(MessageType, String)>) {
    let _ = FORWARD.set(tx);
}

fn rank(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

struct ServerLog;

impl<S: Subscriber> Layer<S> for ServerLog {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let r = rank(meta.level());
        if r > LEVEL.load(Ordering::Relaxed) {
            return;
        }
        let mut text = Message(String::new());
        event.record(&mut text);
        let line = format!("{} {}: {}", meta.level(), meta.target(), text.0);
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        // The transport's own debug chatter would echo every message we send.
        let from_transport = meta.target().starts_with("tower_lsp_server");
        if from_transport && r > 2 {
            return;
        }
        if let Some(tx) = FORWARD.get() {
            let typ = match r {
                1 => MessageType::ERROR,
                2 => MessageType::WARNING,
                3 => MessageType::INFO,
                _ => MessageType::LOG,
            };
            let _ = tx.send((typ, text.0));
        }
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}
