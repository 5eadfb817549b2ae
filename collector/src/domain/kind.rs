//! What a survey measures, and what that fixes: the scores it takes, what its buttons show and
//! which scores count as good.

/// The scores an NPS survey takes: 0 to 10.
pub const NPS_SCORES: std::ops::RangeInclusive<u8> = 0..=10;
/// NPS promoters answer 9 or 10.
pub const PROMOTER_MIN: u8 = 9;
/// NPS detractors answer 0 to 6 (7 and 8 are passives).
pub const DETRACTOR_MAX: u8 = 6;
/// The scores a CES survey takes: 1 (very difficult) to 7 (very easy).
pub const CES_SCORES: std::ops::RangeInclusive<u8> = 1..=7;
/// CES counts an answer of 5 or above as easy.
pub const EASY_MIN: u8 = 5;

/// What a survey measures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Kind {
    /// Satisfaction with one interaction, on 2 to 10 emoji (`1` is the worst).
    #[default]
    Csat,
    /// Net Promoter Score: "How likely are you to recommend us?", 0 to 10.
    Nps,
    /// Customer effort: "How easy was it to get help?", 1 to 7.
    Ces,
}

impl Kind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "csat" => Some(Self::Csat),
            "nps" => Some(Self::Nps),
            "ces" => Some(Self::Ces),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csat => "csat",
            Self::Nps => "nps",
            Self::Ces => "ces",
        }
    }

    /// The scores of a numbered kind, which the kind fixes; `None` for CSAT, whose emoji decide.
    pub fn numbers(self) -> Option<std::ops::RangeInclusive<u8>> {
        match self {
            Self::Csat => None,
            Self::Nps => Some(NPS_SCORES),
            Self::Ces => Some(CES_SCORES),
        }
    }

    /// Whether the buttons show numbers (with words under the two ends) rather than emoji.
    pub fn numbered(self) -> bool {
        self.numbers().is_some()
    }

    /// The lowest score that counts as good, when the kind fixes it: a promoter for NPS, an easy
    /// answer for CES. CSAT's is the survey's `satisfied_min`.
    pub fn fixed_good_min(self) -> Option<u8> {
        match self {
            Self::Csat => None,
            Self::Nps => Some(PROMOTER_MIN),
            Self::Ces => Some(EASY_MIN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_name() {
        for kind in [Kind::Csat, Kind::Nps, Kind::Ces] {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("NPS"), None);
        assert_eq!(Kind::default(), Kind::Csat);
    }

    #[test]
    fn nps_takes_eleven_scores_from_zero_and_ces_seven_from_one() {
        assert_eq!(Kind::Nps.numbers().map(|s| s.count()), Some(11));
        assert_eq!(Kind::Nps.numbers().map(|s| *s.start()), Some(0));
        assert_eq!(Kind::Ces.numbers(), Some(1..=7));
        assert!(!Kind::Csat.numbered());
        let passives: Vec<u8> = NPS_SCORES
            .filter(|&s| s > DETRACTOR_MAX && s < PROMOTER_MIN)
            .collect();
        assert_eq!(passives, [7, 8]);
    }
}
