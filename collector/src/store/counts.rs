//! Every count of one dimension in one time bucket, as both engines keep it.
//!
//! In the embedded store, one value per (survey, dimension, grain, bucket) holds the responses by score, the
//! impressions, the unconfirmed clicks, the registrations and the answered invitations
//! together, as a marker byte and `SLOTS` varints (postcard). A rating then moves six keys (the survey and each of its two tags, by day and by hour), and the ratings of
//! one batch mostly share them: with a key per score and metric, a batch wrote about five times
//! as many counters, and those writes were most of what a rating cost the writer thread.
//!
//! Responses are counted by score value, `0` to `MAX_SCORE`, whatever the survey's kind (an NPS
//! 0 has its slot like a CSAT 5), so a counter needs no survey to be read or audited.
//!
//! Two older layouts are still read, and written back in today's the next time the counter
//! changes: `SLOTS` big-endian u64s (`FIXED_VALUE_LEN`, until 2026-12-04), and before NPS had a
//! slot for 0 twelve of them (`OLD_VALUE_LEN`, scores 1 to 10 from the first slot, read
//! shifted one slot up). Their first byte is the top byte of a count, 0 for any count below
//! 2^56, so it never equals `COMPACT`; their length tells the two apart. Why varints: a batch
//! of ratings rewrites every counter it moves, each into fjall's journal, and 120 fixed bytes
//! of mostly zeros made the counters most of the journal's bytes (BENCHMARKS.md, "Fewer bytes
//! per rating"); today's value of a young counter is 16 bytes.

use crate::domain::figures::{SCORE_SLOTS, Tally};

/// Responses by score (`0..=MAX_SCORE`), then impressions, unconfirmed clicks, registrations and
/// answered invitations.
pub const SLOTS: usize = SCORE_SLOTS + 4;
const IMPRESSIONS: usize = SCORE_SLOTS;
const UNCONFIRMED_CLICKS: usize = SCORE_SLOTS + 1;
const REGISTRATIONS: usize = SCORE_SLOTS + 2;
const ANSWERED: usize = SCORE_SLOTS + 3;
/// The first byte of a value in today's layout.
const COMPACT: u8 = 1;
/// Bytes of a value written as `SLOTS` fixed u64s, until 2026-12-04.
const FIXED_VALUE_LEN: usize = SLOTS * 8;
/// Bytes of a value written before score 0 had a slot and before registrations were counted:
/// scores 1 to 10, impressions, clicks (twelve u64s).
const OLD_VALUE_LEN: usize = (SCORE_SLOTS - 1 + 2) * 8;

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
    /// Reads a stored value, in today's layout or an older one (the one before score 0 had a
    /// slot is shifted one slot up, registrations and answered invitations read as zero). Only
    /// `Counts::encode` writes counter values, so a value in no layout is corruption; it reads
    /// as zero rather than failing every read of its range.
    pub fn decode(value: &[u8]) -> Self {
        let mut counts = [0; SLOTS];
        if let Some((&COMPACT, rest)) = value.split_first() {
            return match postcard::take_from_bytes::<[u64; SLOTS]>(rest) {
                Ok((counts, [])) => Self(counts),
                _ => Self::default(),
            };
        }
        let first = match value.len() {
            FIXED_VALUE_LEN => 0,
            OLD_VALUE_LEN => 1,
            _ => return Self(counts),
        };
        for (count, bytes) in counts[first..].iter_mut().zip(value.chunks_exact(8)) {
            *count = u64::from_be_bytes(bytes.try_into().expect("8 bytes"));
        }
        Self(counts)
    }

    pub fn encode(&self) -> Vec<u8> {
        postcard::to_extend(&self.0, vec![COMPACT]).expect("counts always serialize")
    }

    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|&count| count == 0)
    }

    /// Counts from their slots (a PostgreSQL counter row's columns, summed over its shards); a
    /// negative sum, which only a damaged store could hold, reads as zero.
    pub fn from_slots(slots: [i64; SLOTS]) -> Self {
        Self(slots.map(|count| u64::try_from(count).unwrap_or(0)))
    }

    /// The same counts without the unconfirmed clicks, which no stored record backs (an audit
    /// can't recount them).
    pub fn without_clicks(mut self) -> Self {
        self.0[UNCONFIRMED_CLICKS] = 0;
        self
    }

    pub fn tally(&self) -> Tally {
        let mut by_score = [0; SCORE_SLOTS];
        by_score.copy_from_slice(&self.0[..SCORE_SLOTS]);
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
    /// Adds `by` to `metric`'s count (for responses, the count of `score`; a score above
    /// `MAX_SCORE`, which the domain never lets through, changes nothing).
    pub fn add(&mut self, metric: Metric, score: u8, by: i64) {
        let slot = match metric {
            Metric::Response => Some(usize::from(score)).filter(|&slot| slot < SCORE_SLOTS),
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

    /// The change of each slot, in `Counts`' order.
    pub fn slots(&self) -> [i64; SLOTS] {
        self.0
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
        assert_eq!(tally.by_score[..6], [0, 1, 0, 0, 0, 2]);
        assert_eq!((tally.impressions, tally.unconfirmed_clicks), (7, 1));

        let mut undo = Delta::default();
        undo.add(Metric::Response, 5, -2);
        undo.add(Metric::Response, 1, -1);
        undo.add(Metric::Impression, 0, -7);
        assert!(!undo.applied_to(counts).is_zero(), "the click remains");
        assert!(undo.applied_to(counts).without_clicks().is_zero());
    }

    #[test]
    fn every_score_from_0_to_10_has_its_own_count_and_nothing_above() {
        let mut delta = Delta::default();
        for score in 0..=10 {
            delta.add(Metric::Response, score, i64::from(score) + 1);
        }
        let tally = delta.applied_to(Counts::default()).tally();
        assert_eq!(tally.by_score, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert_eq!((tally.impressions, tally.unconfirmed_clicks), (0, 0));
        let mut above = Delta::default();
        above.add(Metric::Response, 11, 1);
        assert!(above.is_zero());
    }

    #[test]
    fn a_value_written_before_score_0_had_a_slot_reads_shifted_and_is_rewritten_in_todays_layout() {
        // The older layout: twelve u64s, scores 1 to 10 from the first, then impressions and
        // unconfirmed clicks. Two 1s, three 5s, one 10; seven impressions, one click.
        let old: Vec<u8> = [2u64, 0, 0, 0, 3, 0, 0, 0, 0, 1, 7, 1]
            .iter()
            .flat_map(|count| count.to_be_bytes())
            .collect();
        assert_eq!(old.len(), OLD_VALUE_LEN);
        let counts = Counts::decode(&old);
        let tally = counts.tally();
        assert_eq!(tally.by_score, [0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 1]);
        assert_eq!((tally.impressions, tally.unconfirmed_clicks), (7, 1));
        assert_eq!((tally.registrations, tally.answered), (0, 0));

        // A rating changes it: the value goes back in today's layout with nothing lost.
        let mut delta = Delta::default();
        delta.add(Metric::Response, 5, 1);
        let rewritten = delta.applied_to(counts).encode();
        assert_eq!(rewritten[0], COMPACT);
        let tally = Counts::decode(&rewritten).tally();
        assert_eq!(tally.by_score, [0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 1]);
        assert_eq!((tally.impressions, tally.unconfirmed_clicks), (7, 1));
        // Read either way, the same counts compare equal (what `collector audit` checks).
        let recounted = Counts::decode(&counts.encode());
        assert_eq!(recounted, counts);
    }

    #[test]
    fn a_value_written_as_fixed_u64s_reads_the_same_and_is_rewritten_compact() {
        let mut delta = Delta::default();
        delta.add(Metric::Response, 0, 3);
        delta.add(Metric::Response, 10, 1 << 40);
        delta.add(Metric::Registration, 0, 2);
        let counts = delta.applied_to(Counts::default());
        let fixed: Vec<u8> = counts.0.iter().flat_map(|c| c.to_be_bytes()).collect();
        assert_eq!(fixed.len(), FIXED_VALUE_LEN);
        assert_eq!(Counts::decode(&fixed), counts);
        let compact = counts.encode();
        assert_eq!(Counts::decode(&compact), counts);
        assert!(compact.len() < 32, "{} bytes", compact.len());
        assert_eq!(
            Counts::default().encode().len(),
            1 + SLOTS,
            "a zero is one byte"
        );
    }

    #[test]
    fn a_damaged_value_reads_as_zero_rather_than_as_other_counts() {
        let mut delta = Delta::default();
        delta.add(Metric::Response, 4, 300);
        let value = delta.applied_to(Counts::default()).encode();
        for damaged in [
            &value[..value.len() - 1],
            &[value.as_slice(), &[0]].concat()[..],
        ] {
            assert!(Counts::decode(damaged).is_zero(), "{damaged:?}");
        }
    }
}
