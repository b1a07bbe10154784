//! How we talk to BuildKit: the gRPC control client over any byte stream a
//! driver hands over, the session we serve back (file sync, file send, auth,
//! secrets), progress decoding, and failed-solve errors with source ranges.

pub mod filesync;
