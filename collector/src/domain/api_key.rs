//! API keys, kept only as digests.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// SHA-256 of an API key. Keys are compared as digests so every comparison has the same length
/// and runs in constant time; the key itself is never kept.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyDigest([u8; 32]);

impl std::fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDigest(…)")
    }
}

impl KeyDigest {
    pub fn of(key: &str) -> Self {
        Self(Sha256::digest(key.as_bytes()).into())
    }

    pub fn matches_any(&self, keys: &[KeyDigest]) -> bool {
        // Fold over every key without stopping early: timing says nothing about which matched.
        keys.iter()
            .fold(subtle::Choice::from(0), |found, key| {
                found | key.0.ct_eq(&self.0)
            })
            .into()
    }
}
