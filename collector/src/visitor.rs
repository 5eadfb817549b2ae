//! The anonymous per-visitor daily limit.
//!
//! A visitor is a SHA-256 of a random salt, the survey, the IP address and the user agent. The
//! salt lives only in memory and is replaced with a fresh random one when the UTC day changes,
//! together with every count: a hash can't be tied to an IP address, nor linked across days.
//! Nothing here is ever written to disk or logged. (A restart also starts a new salt; the cost
//! is that a visitor's allowance may restart early, which is the private side to err on.)

use crate::domain::Day;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::OffsetDateTime;

/// An anonymous visitor of one survey, for today only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitorKey([u8; 32]);

#[derive(Debug)]
struct Today {
    day: Day,
    salt: [u8; 32],
    used: HashMap<VisitorKey, u32>,
}

#[derive(Debug)]
pub struct VisitorLimits {
    // A plain mutex: every critical section is a hash and a map update, far shorter than any
    // await, and it is never held across one.
    today: Mutex<Today>,
}

impl Default for VisitorLimits {
    fn default() -> Self {
        Self {
            today: Mutex::new(Today {
                day: Day(0),
                salt: fresh_salt(),
                used: HashMap::new(),
            }),
        }
    }
}

fn fresh_salt() -> [u8; 32] {
    let mut salt = [0; 32];
    rand::thread_rng().fill_bytes(&mut salt);
    salt
}

impl VisitorLimits {
    /// Takes one of today's `limit` anonymous responses for this visitor, or `None` when they
    /// are used up.
    pub fn take(
        &self,
        survey: &str,
        ip: IpAddr,
        user_agent: &str,
        limit: u32,
        now: OffsetDateTime,
    ) -> Option<VisitorKey> {
        let mut today = self
            .today
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let day = Day::of(now);
        if today.day != day {
            *today = Today {
                day,
                salt: fresh_salt(),
                used: HashMap::new(),
            };
        }
        let mut hasher = Sha256::new();
        hasher.update(today.salt);
        for part in [
            survey.as_bytes(),
            ip.to_string().as_bytes(),
            user_agent.as_bytes(),
        ] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part);
        }
        let key = VisitorKey(hasher.finalize().into());
        let used = today.used.entry(key).or_insert(0);
        if *used >= limit {
            return None;
        }
        *used += 1;
        Some(key)
    }

    /// Returns an allowance that was taken but not spent (the write turned out not to create).
    pub fn give_back(&self, key: VisitorKey) {
        let mut today = self
            .today
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(used) = today.used.get_mut(&key) {
            *used = used.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_visitor_gets_the_limit_and_others_are_unaffected() {
        let limits = VisitorLimits::default();
        let now = datetime!(2026-11-23 12:00 UTC);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limits.take("s", ip, "firefox", 2, now).is_some());
        assert!(limits.take("s", ip, "firefox", 2, now).is_some());
        assert!(limits.take("s", ip, "firefox", 2, now).is_none());
        assert!(limits.take("s", ip, "chrome", 2, now).is_some());
        assert!(limits.take("other", ip, "firefox", 2, now).is_some());
    }

    #[test]
    fn a_new_day_brings_a_new_allowance_and_a_new_salt() {
        let limits = VisitorLimits::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let monday = limits
            .take("s", ip, "ua", 1, datetime!(2026-11-23 23:59 UTC))
            .unwrap();
        assert!(
            limits
                .take("s", ip, "ua", 1, datetime!(2026-11-23 23:59 UTC))
                .is_none()
        );
        let tuesday = limits
            .take("s", ip, "ua", 1, datetime!(2026-11-24 00:01 UTC))
            .unwrap();
        assert_ne!(
            monday, tuesday,
            "the same visitor can't be linked across days"
        );
    }

    #[test]
    fn an_unspent_allowance_comes_back() {
        let limits = VisitorLimits::default();
        let now = datetime!(2026-11-23 12:00 UTC);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let key = limits.take("s", ip, "ua", 1, now).unwrap();
        limits.give_back(key);
        assert!(limits.take("s", ip, "ua", 1, now).is_some());
    }
}
