//! From raw counters to the figures a marketer reads: each kind's own figure (CSAT, NPS, CES)
//! with its 95% interval, the average and the response rate.

use super::kind::{DETRACTOR_MAX, Kind, PROMOTER_MIN};
use super::survey::Survey;
use pulsetap_wire::{Counts, Figures, KindFigures};

/// The largest emoji scale a survey may have.
pub const MAX_SCALE: usize = 10;
/// The highest score of any kind (NPS's 10). Counters keep one count per score value, `0` to
/// this, whatever the survey's kind.
pub const MAX_SCORE: u8 = 10;
/// How many score values a counter keeps: `0..=MAX_SCORE`.
pub const SCORE_SLOTS: usize = MAX_SCORE as usize + 1;

/// The two-sided 95% quantile of the standard normal distribution.
const Z_95: f64 = 1.959_963_984_540_054;

/// Raw counts for one group of responses (one bucket, one tag value, or a sum of them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// `by_score[s]` responses with score `s`.
    pub by_score: [u64; SCORE_SLOTS],
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

    /// Responses with a score in `scores`.
    fn between(&self, scores: std::ops::RangeInclusive<u8>) -> u64 {
        scores.map(|s| self.count(s)).sum()
    }

    fn count(&self, score: u8) -> u64 {
        self.by_score.get(usize::from(score)).copied().unwrap_or(0)
    }

    /// The figures every read reports (docs/api.md, "Reading") for a group of `survey`'s
    /// responses: its kind's own figure, with the counts of each of its scores.
    pub fn figures(&self, survey: &Survey) -> Figures {
        let n = self.responses();
        let scores = survey.scores();
        let counts: Counts = scores
            .clone()
            .map(|score| (score.to_string(), self.count(score)))
            .collect();
        let score_sum: u64 = scores.clone().map(|s| u64::from(s) * self.count(s)).sum();
        let good = self.between(survey.satisfied_min..=*scores.end());
        let kind = match survey.kind {
            Kind::Csat => {
                let (csat, csat_ci95) = share_95(good, n);
                KindFigures::Csat { csat, csat_ci95 }
            }
            Kind::Ces => {
                let (easy, easy_ci95) = share_95(good, n);
                KindFigures::Ces { easy, easy_ci95 }
            }
            Kind::Nps => {
                let promoters = self.between(PROMOTER_MIN..=MAX_SCORE);
                let detractors = self.between(0..=DETRACTOR_MAX);
                let nps = nps_95(promoters, detractors, n);
                KindFigures::Nps {
                    nps: nps.map(|(point, _)| round(point, 1)),
                    nps_ci95: nps.map(|(_, (lo, hi))| [round(lo, 1), round(hi, 1)]),
                    promoters,
                    passives: n - promoters - detractors,
                    detractors,
                }
            }
        };
        let invited = self.invited();
        // Counted per invitation, so never more than invited; `min` guards counters an old
        // version or a crash left uneven.
        let answered = self.answered.min(invited);
        Figures {
            kind,
            responses: n,
            impressions: self.impressions,
            invited,
            answered,
            response_rate: (invited > 0)
                .then(|| round(100.0 * answered as f64 / invited as f64, 1)),
            counts,
            average: (n > 0).then(|| round(score_sum as f64 / n as f64, 2)),
            unconfirmed_clicks: self.unconfirmed_clicks,
        }
    }
}

/// A share in percent with its Wilson 95% interval, both `None` without responses.
fn share_95(successes: u64, n: u64) -> (Option<f64>, Option<[f64; 2]>) {
    if n == 0 {
        return (None, None);
    }
    let (lo, hi) = wilson_95(successes, n);
    (
        Some(round(100.0 * successes as f64 / n as f64, 1)),
        Some([round(100.0 * lo, 1), round(100.0 * hi, 1)]),
    )
}

/// Wilson score interval at 95%: unlike the plain normal interval it stays inside [0, 1] and is
/// honest for small samples, which is exactly when a marketer needs the warning.
pub fn wilson_95(successes: u64, n: u64) -> (f64, f64) {
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z_95 * Z_95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half_width = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    (
        (centre - half_width).max(0.0),
        (centre + half_width).min(1.0),
    )
}

/// The Net Promoter Score of `n` responses, `promoters` of them promoters and `detractors`
/// detractors, with its 95% interval, all in points from −100 to 100; `None` without responses.
///
/// NPS = 100 × (P − D) / n. Promoters and detractors are two shares of one sample (a
/// trinomial), so the variance of their difference is
///
/// ```text
/// Var(p − d) = Var(p) + Var(d) − 2·Cov(p, d) = [p(1 − p) + d(1 − d) + 2pd] / n
///            = [p + d − (p − d)²] / n
/// ```
///
/// The interval is the adjusted Wald interval that Rocks found best of those compared
/// ("Interval Estimation for the 'Net Promoter Score'", The American Statistician 70(4), 2016;
/// arXiv:1601.07235): add ¾ to the promoters and ¾ to the detractors (and so 1½ to the
/// passives), `n' = n + 3`, `p = (P + ¾) / n'`, `d = (D + ¾) / n'`, and take
/// `(p − d) ± 1.96 · √([p + d − (p − d)²] / n')`, clamped to [−100, 100]. Like the Wilson
/// interval for CSAT, the adjustment keeps the interval honest for a handful of responses,
/// where the plain one would shrink to a single point. With one response the adjusted centre
/// can pull the interval past the score itself; it is then widened to hold it.
pub fn nps_95(promoters: u64, detractors: u64, n: u64) -> Option<(f64, (f64, f64))> {
    if n == 0 {
        return None;
    }
    let point = 100.0 * (promoters as f64 - detractors as f64) / n as f64;
    let adjusted_n = n as f64 + 3.0;
    let p = (promoters as f64 + 0.75) / adjusted_n;
    let d = (detractors as f64 + 0.75) / adjusted_n;
    let centre = p - d;
    let half_width = Z_95 * ((p + d - centre * centre) / adjusted_n).sqrt();
    let lo = (100.0 * (centre - half_width)).max(-100.0).min(point);
    let hi = (100.0 * (centre + half_width)).min(100.0).max(point);
    Some((point, (lo, hi)))
}

fn round(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::configuration;

    fn survey(kind: &str) -> Survey {
        let surveys = configuration::parse(&format!("[[survey]]\nid = \"s\"\nkind = \"{kind}\"\n"))
            .expect("a valid survey");
        surveys.get("s").expect("the survey").as_ref().clone()
    }

    /// A tally with `count` responses at each `(score, count)`.
    fn tally(counts: &[(u8, u64)]) -> Tally {
        let mut tally = Tally::default();
        for &(score, count) in counts {
            tally.by_score[usize::from(score)] += count;
        }
        tally
    }

    fn nps_of(tally: &Tally) -> (Option<f64>, Option<[f64; 2]>, [u64; 3]) {
        match tally.figures(&survey("nps")).kind {
            KindFigures::Nps {
                nps,
                nps_ci95,
                promoters,
                passives,
                detractors,
            } => (nps, nps_ci95, [promoters, passives, detractors]),
            other => panic!("not NPS figures: {other:?}"),
        }
    }

    #[test]
    fn wilson_matches_a_published_value() {
        // 8 of 10: the Wilson 95% interval is [0.4902, 0.9433].
        let (lo, hi) = wilson_95(8, 10);
        assert!((lo - 0.4902).abs() < 1e-4, "{lo}");
        assert!((hi - 0.9433).abs() < 1e-4, "{hi}");
    }

    #[test]
    fn figures_of_a_small_tally() {
        let mut tally = tally(&[(5, 3), (1, 1)]);
        tally.impressions = 6;
        tally.registrations = 4;
        tally.answered = 4;
        let figures = tally.figures(&survey("csat"));
        assert_eq!(figures.responses, 4);
        assert_eq!(figures.counts["5"], 3);
        assert_eq!(figures.counts["3"], 0);
        assert_eq!(figures.counts.len(), 5, "1 to 5, no 0");
        assert!(matches!(
            figures.kind,
            KindFigures::Csat {
                csat: Some(75.0),
                ..
            }
        ));
        assert_eq!(figures.average, Some(4.0));
        assert_eq!(figures.invited, 10);
        assert_eq!(figures.response_rate, Some(40.0));
    }

    #[test]
    fn answers_nothing_invited_leave_the_rate_at_what_was_invited() {
        // Six email answers from signed links nobody registered, one widget shown and answered:
        // a rate over 100% would say nothing true.
        let mut tally = tally(&[(5, 7)]);
        tally.impressions = 1;
        tally.answered = 1;
        assert_eq!(tally.figures(&survey("csat")).response_rate, Some(100.0));
    }

    #[test]
    fn no_responses_means_no_csat_rather_than_zero() {
        let figures = Tally::default().figures(&survey("csat"));
        assert_eq!(
            figures.kind,
            KindFigures::Csat {
                csat: None,
                csat_ci95: None
            }
        );
        assert_eq!(figures.average, None);
        assert_eq!(figures.response_rate, None);
    }

    // The NPS cases below were worked by hand from the formula on `nps_95`, with z = 1.96.

    #[test]
    fn nps_of_no_responses_is_no_score_rather_than_zero() {
        assert_eq!(nps_95(0, 0, 0), None);
        assert_eq!(nps_of(&Tally::default()), (None, None, [0, 0, 0]));
    }

    #[test]
    fn nps_of_all_promoters_is_100_with_an_interval_reaching_down_to_47_5() {
        // n' = 13, p = 10.75/13 = 0.8269, d = 0.75/13 = 0.0577, p − d = 0.7692,
        // Var = (0.8846 − 0.5917)/13 = 0.02253, 1.96·√Var = 0.2942: [47.5, 106.3] → [47.5, 100].
        let ten_promoters = tally(&[(9, 4), (10, 6)]);
        assert_eq!(
            nps_of(&ten_promoters),
            (Some(100.0), Some([47.5, 100.0]), [10, 0, 0])
        );
    }

    #[test]
    fn nps_of_all_detractors_is_minus_100_mirroring_all_promoters() {
        let ten_detractors = tally(&[(0, 2), (3, 3), (6, 5)]);
        assert_eq!(
            nps_of(&ten_detractors),
            (Some(-100.0), Some([-100.0, -47.5]), [0, 0, 10])
        );
    }

    #[test]
    fn nps_of_a_mix_counts_promoters_less_detractors() {
        // 5 promoters, 3 passives, 2 detractors: NPS = 50 − 20 = 30.
        // n' = 13, p = 5.75/13 = 0.4423, d = 2.75/13 = 0.2115, p − d = 0.2308,
        // Var = (0.6538 − 0.0533)/13 = 0.04620, 1.96·√Var = 0.4213: [−19.1, 65.2].
        let mix = tally(&[(10, 3), (9, 2), (8, 2), (7, 1), (6, 1), (0, 1)]);
        assert_eq!(nps_of(&mix), (Some(30.0), Some([-19.1, 65.2]), [5, 3, 2]));
        // Ten times as many answers in the same shares: the same NPS, a narrower interval.
        let (lo, hi) = nps_95(50, 20, 100).unwrap().1;
        assert_eq!((round(lo, 1), round(hi, 1)), (14.1, 44.2));
    }

    #[test]
    fn nps_of_one_response_is_that_response_with_a_wide_interval_that_holds_it() {
        // One promoter: n' = 4, p = 1.75/4 = 0.4375, d = 0.75/4 = 0.1875, p − d = 0.25,
        // Var = (0.625 − 0.0625)/4 = 0.1406, 1.96·√Var = 0.7350: [−48.5, 98.5], widened to 100.
        assert_eq!(
            nps_of(&tally(&[(9, 1)])),
            (Some(100.0), Some([-48.5, 100.0]), [1, 0, 0])
        );
        // One passive: p = d = 0.1875, Var = 0.375/4, 1.96·√Var = 0.6001: [−60.0, 60.0].
        assert_eq!(
            nps_of(&tally(&[(7, 1)])),
            (Some(0.0), Some([-60.0, 60.0]), [0, 1, 0])
        );
        assert_eq!(
            nps_of(&tally(&[(2, 1)])),
            (Some(-100.0), Some([-100.0, 48.5]), [0, 0, 1])
        );
    }

    #[test]
    fn nps_counts_every_score_from_0_to_10() {
        let figures = tally(&[(0, 1), (10, 1)]).figures(&survey("nps"));
        assert_eq!(figures.counts.len(), 11);
        assert_eq!((figures.counts["0"], figures.counts["10"]), (1, 1));
        assert_eq!(figures.average, Some(5.0));
    }

    #[test]
    fn ces_reports_the_average_effort_and_the_share_at_5_or_above() {
        // 1, 4, 5, 6, 7, 7: average 30/6 = 5.0; four of six at 5 or above = 66.7%.
        let figures = tally(&[(1, 1), (4, 1), (5, 1), (6, 1), (7, 2)]).figures(&survey("ces"));
        assert_eq!(figures.counts.len(), 7);
        assert_eq!(figures.average, Some(5.0));
        let KindFigures::Ces { easy, easy_ci95 } = figures.kind else {
            panic!("not CES figures: {:?}", figures.kind);
        };
        assert_eq!(easy, Some(66.7));
        // Wilson, 4 of 6: [0.3000, 0.9032].
        assert_eq!(easy_ci95, Some([30.0, 90.3]));
        assert_eq!(
            Tally::default().figures(&survey("ces")).kind,
            KindFigures::Ces {
                easy: None,
                easy_ci95: None
            }
        );
    }
}
