//! How we talk to BuildKit: the gRPC control client over any byte stream a
//! driver hands over, the session we serve back (file sync, file send, auth,
//! secrets, SSH forwarding, the content store), progress decoding with secret values masked, and failed-solve
//! errors with source ranges.

pub mod attachables;
pub mod client;
pub mod content;
pub mod errors;
pub mod filesend;
pub mod filesync;
pub mod history;
pub mod ocilayout;
pub mod oracle;
pub mod progress;
pub mod redact;
pub mod session;
pub mod sshforward;

pub use client::{BuildOutcome, Client};
pub use errors::{render_failure, BuildkitError, SolveFailure};
pub use progress::{PlainRenderer, ProgressEvent, ProgressMode};

/// A fresh id for a solve (`SolveRequest.ref`, `StatusRequest.ref`).
pub fn session_ref() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}
