//! How much one request may ask of the server.

/// A rating is a few hundred bytes; 8 KiB leaves room for a long comment in any script.
pub const MAX_BODY_BYTES: usize = 8 * 1024;
