//! The value under a counter key: every count of one dimension in one time bucket.
//!
//! One value per (survey, dimension, grain, bucket) holds the responses by score, the
//! impressions and the unconfirmed clicks together, as `SLOTS` big-endian u64s. A rating then
//! moves six keys (the survey and each of its two tags, by day and by hour), and the ratings of
//! one batch mostly share them: with a key per score and metric, a batch wrote about five times
//! as many counters, and those writes were most of what a rating cost the writer thread.

use crate::domain::figures::{MAX_SCALE, Tally};

/// Responses by score (`1..=MAX_SCALE`), then impressions, unconfirmed clicks, registrations and
/// answered invitations.
const SLOTS: usize = MAX_SCALE + 4;
const IMPRESSIONS: usize = MAX_SCALE;
const UNCONFIRMED_CLICKS: usize = MAX_SCALE + 1;
const REGISTRATIONS: usize = MAX_SCALE + 2;
const ANSWERED: usize = MAX_SCALE + 3;
/// Bytes of a stored value.
const VALUE_LEN: usize = SLOTS * 8;
/// Bytes of a value written before registrations were counted: the same slots, without the
/// last two (read as zero).
const OLD_VALUE_LEN: usize = (MAX_SCALE + 2) * 8;

/// What a count counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Responses with a score.
    Response,
    /// Widgets shown.
    Impression,
    /// Email links opened and not (yet) confirmed.
    UnconfirmedClick,
    /// Interactions a helpdesk registered: invitations, like impressions.
    Registration,
    /// Invitations (an impression or a registration) that got their answer.
    Answered,
}

/// Every count of one counter key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([u64; SLOTS]);

impl Counts {
    /// Reads a stored value. Only `Counts::encode` writes counter values (today's length, or
    /// an older version's shorter one), so a value of another length is corruption; it reads
    /// as zero rather than failing every read of its range.
    pub fn decode(value: &[u8]) -> Self {
        let mut counts = [0; SLOTS];
        if value.len() == VALUE_LEN || value.len() == OLD_VALUE_LEN {
            for (count, bytes) in counts.iter_mut().zip(value.chunks_exact(8)) {
                *count = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
            }
        }
        Self(counts)
    }

    pub fn encode(&self) -> Vec<u8> {
        self.0
            .iter()
            .flat_map(|count| count.to_be_bytes())
            .collect()
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&count| count == 0)
    }

    /// The same counts without the unconfirmed clicks, which no stored record backs (an audit
    /// can't recount them).
    pub fn without_clicks(mut self) -> Self {
        self.0[UNCONFIRMED_CLICKS] = 0;
        self
    }

    pub fn tally(&self) -> Tally {
        let mut by_score = [0; MAX_SCALE];
        by_score.copy_from_slice(&self.0[..MAX_SCALE]);
        Tally {
            by_score,
            impressions: self.0[IMPRESSIONS],
            unconfirmed_clicks: self.0[UNCONFIRMED_CLICKS],
            registrations: self.0[REGISTRATIONS],
            answered: self.0[ANSWERED],
        }
    }
}

/// Changes to the counts of one key, summed over a transaction before it is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta([i64; SLOTS]);

impl Delta {
    /// Adds `by` to `metric`'s count (for responses, the count of `score`; a score outside
    /// `1..=MAX_SCALE`, which the domain never lets through, changes nothing).
    pub fn add(&mut self, metric: Metric, score: u8, by: i64) {
        let slot = match metric {
            Metric::Response => usize::from(score)
                .checked_sub(1)
                .filter(|&slot| slot < MAX_SCALE),
            Metric::Impression => Some(IMPRESSIONS),
            Metric::UnconfirmedClick => Some(UNCONFIRMED_CLICKS),
            Metric::Registration => Some(REGISTRATIONS),
            Metric::Answered => Some(ANSWERED),
        };
        if let Some(slot) = slot {
            self.0[slot] += by;
        }
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&change| change == 0)
    }

    /// `counts` changed by this delta; a count never goes below zero.
    pub fn applied_to(&self, mut counts: Counts) -> Counts {
        for (count, &change) in counts.0.iter_mut().zip(&self.0) {
            *count = count.saturating_add_signed(change);
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_survive_encoding_and_changes() {
        let mut delta = Delta::default();
        delta.add(Metric::Response, 5, 2);
        delta.add(Metric::Response, 1, 1);
        delta.add(Metric::Impression, 0, 7);
        delta.add(Metric::UnconfirmedClick, 3, 1);
        let counts = Counts::decode(&delta.applied_to(Counts::default()).encode());
        let tally = counts.tally();
        assert_eq!(tally.by_score[..5], [1, 0, 0, 0, 2]);
        assert_eq!((tally.impressions, tally.unconfirmed_clicks), (7, 1));

        let mut undo = Delta::default();
        undo.add(Metric::Response, 5, -2);
        undo.add(Metric::Response, 1, -1);
        undo.add(Metric::Impression, 0, -7);
        assert!(!undo.applied_to(counts).is_zero(), "the click remains");
        assert!(undo.applied_to(counts).without_clicks().is_zero());
    }

    #[test]
    fn a_value_written_before_registrations_were_counted_reads_as_it_was() {
        let mut delta = Delta::default();
        delta.add(Metric::Response, 2, 4);
        delta.add(Metric::Impression, 0, 9);
        let today = delta.applied_to(Counts::default()).encode();
        let old = &today[..OLD_VALUE_LEN];
        assert_eq!(Counts::decode(old), Counts::decode(&today));
        assert_eq!(Counts::decode(old).tally().impressions, 9);
    }

    #[test]
    fn a_score_outside_the_largest_scale_counts_nowhere() {
        let mut delta = Delta::default();
        delta.add(Metric::Response, 0, 1);
        delta.add(Metric::Response, 11, 1);
        assert!(delta.is_zero());
    }
}
