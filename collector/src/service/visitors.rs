//! Per-visitor limits without keeping anything that identifies a visitor.
//!
//! A visitor is a SHA-256 of a random salt and the client's address: an IPv4 address, or the /64
//! network of an IPv6 one (one subscriber gets a whole /64 and can pick any address in it).
//! Nothing the client chooses (a user agent, a header) is part of it, or a script would be a
//! new visitor on every request. The salt lives only in memory and is replaced with a fresh
//! random one when the UTC day changes, together with every count: a hash can't be tied to an
//! address, nor linked across days. Nothing here is ever written to disk or logged. (A restart
//! also starts a new salt; the cost is that a visitor's allowances may restart early, which is
//! the private side to err on.)
//!
//! The limits that use it: the survey's daily allowances for what nobody vouched for (new
//! unsigned responses, `max_per_visitor_per_day`; impressions,
//! `max_impressions_per_visitor_per_day`), and a short-term flood limit (a token bucket from
//! `governor`) so one client hammering the API can't slow others. Signed ratings never spend an
//! allowance: an office behind one address rating its own helpdesk is never throttled.

use crate::domain::Day;
use crate::domain::survey::FloodLimit;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// One visitor, for today only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VisitorKey([u8; 32]);

/// What a daily allowance is spent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spent {
    /// New responses nobody vouched for.
    Responses,
    /// Impressions nobody vouched for.
    Impressions,
}

#[derive(Debug)]
struct Today {
    day: Day,
    salt: [u8; 32],
    /// What each visitor spent today, per survey.
    used: HashMap<(VisitorKey, Spent, String), u32>,
}

#[derive(Debug)]
pub struct VisitorLimits {
    // A plain mutex: every critical section is a hash and a map update, far shorter than any
    // await, and it is never held across one.
    today: Mutex<Today>,
    flood: DefaultKeyedRateLimiter<VisitorKey>,
}

impl Default for VisitorLimits {
    fn default() -> Self {
        Self::new(FloodLimit::default())
    }
}

impl VisitorLimits {
    pub fn new(flood_limit: FloodLimit) -> Self {
        let nonzero = |n: u32| NonZeroU32::new(n.max(1)).expect("at least 1");
        let quota = Quota::per_second(nonzero(flood_limit.per_second))
            .allow_burst(nonzero(flood_limit.burst));
        Self {
            today: Mutex::new(Today {
                day: Day(0),
                salt: fresh_salt(),
                used: HashMap::new(),
            }),
            flood: DefaultKeyedRateLimiter::keyed(quota),
        }
    }

    /// Today's key for the visitor at `ip`.
    pub fn visitor(&self, ip: IpAddr, now: OffsetDateTime) -> VisitorKey {
        let mut today = self.lock();
        let day = Day::of(now);
        if today.day != day {
            *today = Today {
                day,
                salt: fresh_salt(),
                used: HashMap::new(),
            };
            self.flood.retain_recent();
        }
        let mut hasher = Sha256::new();
        hasher.update(today.salt);
        match ip.to_canonical() {
            IpAddr::V4(v4) => hasher.update(v4.octets()),
            IpAddr::V6(v6) => hasher.update(&v6.octets()[..8]),
        }
        VisitorKey(hasher.finalize().into())
    }

    /// Whether this visitor may make another request now (the flood limit); if not, how long
    /// until it may.
    pub fn allow_request(&self, visitor: VisitorKey) -> Result<(), Duration> {
        self.flood
            .check_key(&visitor)
            .map_err(|not_until| not_until.wait_time_from(self.flood.clock().now()))
    }

    /// Takes one of today's `limit` of `what` for `survey`; `None` when used up. The
    /// allowance comes back when dropped unless it was spent, so a request that fails, is
    /// refused further on, or is dropped halfway never costs the visitor one.
    pub fn take(
        self: &Arc<Self>,
        visitor: VisitorKey,
        what: Spent,
        survey: &str,
        limit: u32,
    ) -> Option<Allowance> {
        let mut today = self.lock();
        let used = today
            .used
            .entry((visitor, what, survey.to_owned()))
            .or_insert(0);
        if *used >= limit {
            return None;
        }
        *used += 1;
        Some(Allowance {
            limits: Arc::clone(self),
            key: (visitor, what, survey.to_owned()),
            spent: false,
        })
    }

    fn give_back(&self, key: &(VisitorKey, Spent, String)) {
        if let Some(used) = self.lock().used.get_mut(key) {
            *used = used.saturating_sub(1);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Today> {
        self.today
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One response or impression taken from a visitor's daily allowance. Dropped unspent, it is
/// given back.
#[derive(Debug)]
pub struct Allowance {
    limits: Arc<VisitorLimits>,
    key: (VisitorKey, Spent, String),
    spent: bool,
}

impl Allowance {
    /// The response or impression was created: the allowance is used for today.
    pub fn spend(mut self) {
        self.spent = true;
    }
}

impl Drop for Allowance {
    fn drop(&mut self) {
        if !self.spent {
            self.limits.give_back(&self.key);
        }
    }
}

fn fresh_salt() -> [u8; 32] {
    let mut salt = [0; 32];
    rand::thread_rng().fill_bytes(&mut salt);
    salt
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOON: OffsetDateTime = datetime!(2026-11-23 12:00 UTC);

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    /// Takes a response allowance and spends it.
    fn spend(limits: &Arc<VisitorLimits>, visitor: VisitorKey, survey: &str, limit: u32) -> bool {
        limits
            .take(visitor, Spent::Responses, survey, limit)
            .map(Allowance::spend)
            .is_some()
    }

    #[test]
    fn a_visitor_gets_the_limit_and_others_are_unaffected() {
        let limits = Arc::new(VisitorLimits::default());
        let visitor = limits.visitor(ip("10.0.0.1"), NOON);
        assert!(spend(&limits, visitor, "s", 2));
        assert!(spend(&limits, visitor, "s", 2));
        assert!(!spend(&limits, visitor, "s", 2));
        assert!(spend(&limits, limits.visitor(ip("10.0.0.2"), NOON), "s", 2));
        assert!(spend(&limits, visitor, "other-survey", 2));
        assert!(
            limits.take(visitor, Spent::Impressions, "s", 2).is_some(),
            "impressions have their own allowance"
        );
    }

    #[test]
    fn an_ipv6_network_is_one_visitor_whatever_address_it_picks() {
        let limits = VisitorLimits::default();
        let home = limits.visitor(ip("2001:db8:1:2::1"), NOON);
        assert_eq!(
            home,
            limits.visitor(ip("2001:db8:1:2:ffff:1234:5678:9abc"), NOON)
        );
        assert_ne!(home, limits.visitor(ip("2001:db8:1:3::1"), NOON));
        // An IPv4 client seen through an IPv6 socket is still that IPv4 address.
        assert_eq!(
            limits.visitor(ip("::ffff:192.0.2.7"), NOON),
            limits.visitor(ip("192.0.2.7"), NOON)
        );
    }

    #[test]
    fn a_new_day_brings_a_new_allowance_and_a_new_salt() {
        let limits = Arc::new(VisitorLimits::default());
        let monday = limits.visitor(ip("10.0.0.1"), datetime!(2026-11-23 23:59 UTC));
        assert!(spend(&limits, monday, "s", 1));
        assert!(!spend(&limits, monday, "s", 1));
        let tuesday = limits.visitor(ip("10.0.0.1"), datetime!(2026-11-24 00:01 UTC));
        assert_ne!(
            monday, tuesday,
            "the same visitor can't be linked across days"
        );
        assert!(spend(&limits, tuesday, "s", 1));
    }

    #[test]
    fn an_allowance_dropped_unspent_comes_back() {
        let limits = Arc::new(VisitorLimits::default());
        let visitor = limits.visitor(ip("10.0.0.1"), NOON);
        let taken = limits
            .take(visitor, Spent::Responses, "s", 1)
            .expect("one allowed");
        assert!(
            limits.take(visitor, Spent::Responses, "s", 1).is_none(),
            "taken, not yet back"
        );
        drop(taken);
        assert!(spend(&limits, visitor, "s", 1));
        assert!(!spend(&limits, visitor, "s", 1), "spent stays spent");
    }

    #[test]
    fn a_flood_is_cut_after_the_burst_for_that_visitor_only() {
        let limits = VisitorLimits::default();
        let flooder = limits.visitor(ip("10.0.0.1"), NOON);
        let burst = FloodLimit::default().burst;
        let allowed = (0..burst * 2)
            .filter(|_| limits.allow_request(flooder).is_ok())
            .count() as u32;
        assert!((burst..burst + 5).contains(&allowed), "{allowed}");
        let refused = limits.allow_request(flooder).expect_err("the flood is cut");
        assert!(
            refused <= Duration::from_secs(1),
            "a token comes back within a second: {refused:?}"
        );
        assert!(
            limits
                .allow_request(limits.visitor(ip("10.0.0.2"), NOON))
                .is_ok()
        );
    }
}
