//! From raw counters to the figures a marketer reads: CSAT, its Wilson interval, average, rate.

use pulsetap_wire::{Counts, Figures};

/// The largest scale a survey may have; counters are kept in fixed arrays of this size.
pub const MAX_SCALE: usize = 10;

/// Raw counts for one group of responses (one bucket, one tag value, or a sum of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// `by_score[s - 1]` responses with score `s`.
    pub by_score: [u64; MAX_SCALE],
    pub impressions: u64,
    pub unconfirmed_clicks: u64,
    /// Interactions a helpdesk registered: invitations, like impressions.
    pub registrations: u64,
    /// Invitations (impressions or registrations) that got their answer.
    pub answered: u64,
}

impl Tally {
    pub fn add(&mut self, other: &Tally) {
        for (mine, theirs) in self.by_score.iter_mut().zip(other.by_score) {
            *mine += theirs;
        }
        self.impressions += other.impressions;
        self.unconfirmed_clicks += other.unconfirmed_clicks;
        self.registrations += other.registrations;
        self.answered += other.answered;
    }

    /// Invitations to answer: widgets shown and interactions registered.
    pub fn invited(&self) -> u64 {
        self.impressions + self.registrations
    }

    pub fn responses(&self) -> u64 {
        self.by_score.iter().sum()
    }

    /// The figures every read reports (docs/api.md, "Reading") for a survey with `scale_len`
    /// emoji.
    pub fn figures(&self, scale_len: u8, satisfied_min: u8) -> Figures {
        let n = self.responses();
        let counts: Counts = (1..=scale_len)
            .map(|score| (score.to_string(), self.by_score[usize::from(score) - 1]))
            .collect();
        let satisfied: u64 = (satisfied_min..=scale_len)
            .map(|s| self.by_score[usize::from(s) - 1])
            .sum();
        let score_sum: u64 = (1..=scale_len)
            .map(|s| u64::from(s) * self.by_score[usize::from(s) - 1])
            .sum();
        let invited = self.invited();
        // Counted per invitation, so never more than invited; `min` guards counters an old
        // version or a crash left uneven.
        let answered = self.answered.min(invited);
        Figures {
            responses: n,
            impressions: self.impressions,
            invited,
            answered,
            response_rate: (invited > 0)
                .then(|| round(100.0 * answered as f64 / invited as f64, 1)),
            counts,
            average: (n > 0).then(|| round(score_sum as f64 / n as f64, 2)),
            csat: (n > 0).then(|| round(100.0 * satisfied as f64 / n as f64, 1)),
            csat_ci95: (n > 0).then(|| {
                let (lo, hi) = wilson_95(satisfied, n);
                [round(100.0 * lo, 1), round(100.0 * hi, 1)]
            }),
            unconfirmed_clicks: self.unconfirmed_clicks,
        }
    }
}

/// Wilson score interval at 95%: unlike the plain normal interval it stays inside [0, 1] and is
/// honest for small samples, which is exactly when a marketer needs the warning.
pub fn wilson_95(successes: u64, n: u64) -> (f64, f64) {
    const Z: f64 = 1.959_963_984_540_054;
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z * Z;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half_width = Z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    (
        (centre - half_width).max(0.0),
        (centre + half_width).min(1.0),
    )
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_published_value() {
        // 8 of 10: the Wilson 95% interval is [0.4902, 0.9433].
        let (lo, hi) = wilson_95(8, 10);
        assert!((lo - 0.4902).abs() < 1e-4, "{lo}");
        assert!((hi - 0.9433).abs() < 1e-4, "{hi}");
    }

    #[test]
    fn figures_of_a_small_tally() {
        let mut tally = Tally {
            impressions: 6,
            registrations: 4,
            answered: 4,
            ..Tally::default()
        };
        tally.by_score[4] = 3; // three 5s
        tally.by_score[0] = 1; // one 1
        let figures = tally.figures(5, 4);
        assert_eq!(figures.responses, 4);
        assert_eq!(figures.counts["5"], 3);
        assert_eq!(figures.counts["3"], 0);
        assert_eq!(figures.csat, Some(75.0));
        assert_eq!(figures.average, Some(4.0));
        assert_eq!(figures.invited, 10);
        assert_eq!(figures.response_rate, Some(40.0));
    }

    #[test]
    fn answers_nothing_invited_leave_the_rate_at_what_was_invited() {
        // Six email answers from signed links nobody registered, one widget shown and answered:
        // a rate over 100% would say nothing true.
        let mut tally = Tally {
            impressions: 1,
            answered: 1,
            ..Tally::default()
        };
        tally.by_score[4] = 7;
        assert_eq!(tally.figures(5, 4).response_rate, Some(100.0));
    }

    #[test]
    fn no_responses_means_no_csat_rather_than_zero() {
        let figures = Tally::default().figures(5, 4);
        assert_eq!(figures.csat, None);
        assert_eq!(figures.csat_ci95, None);
        assert_eq!(figures.average, None);
        assert_eq!(figures.response_rate, None);
    }
}
