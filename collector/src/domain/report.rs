//! What a read asks for: a range of days, and at most one tag value to filter by; and the
//! privacy floor every read of a group obeys.

use super::calendar::Day;
use super::rating::Invalid;
use super::survey::Survey;

/// The longest range one read may ask for, so one request can't sum years of counters.
pub const MAX_DAYS: u32 = 400;
/// The longest range of an hourly timeseries (744 buckets).
pub const MAX_HOURLY_DAYS: u32 = 31;
/// The days a read covers when it names none: the 30 ending today.
pub const DEFAULT_DAYS: u32 = 30;

/// An inclusive range of UTC days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: Day,
    pub to: Day,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("from ({from}) is after to ({to})")]
    Reversed { from: Day, to: Day },
    #[error("a range may span at most {max} days")]
    TooLong { max: u32 },
}

impl DayRange {
    /// `from`/`to` as asked; `to` defaults to `today` and `from` to 29 days before `to`.
    pub fn new(
        from: Option<Day>,
        to: Option<Day>,
        today: Day,
        max_days: u32,
    ) -> Result<Self, RangeError> {
        let to = to.unwrap_or(today);
        let from = from.unwrap_or_else(|| to.minus(DEFAULT_DAYS - 1));
        if from > to {
            return Err(RangeError::Reversed { from, to });
        }
        if to.0 - from.0 >= max_days {
            return Err(RangeError::TooLong { max: max_days });
        }
        Ok(Self { from, to })
    }

    /// Whether `day` is in the range.
    pub fn contains(&self, day: Day) -> bool {
        self.from <= day && day <= self.to
    }
}

/// The privacy floor: whether a group of `responses` (those carrying one tag value, over some
/// time) is too small to show without singling out a customer. Breakdowns apply it to every
/// group, and every read filtered by a tag value to what it shows: a summary, each bucket of a
/// timeseries, a page of comments, an export.
pub fn too_few(responses: u64, survey: &Survey) -> bool {
    responses < survey.min_group_size
}

/// One tag value of a survey: `agent=alice` (also read as `agent:alice`, the older spelling), or
/// one of its languages: `lang=fr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagFilterError {
    #[error("tag must look like agent=alice, got {0:?}")]
    Malformed(String),
    #[error(transparent)]
    Unknown(#[from] Invalid),
}

impl TagFilter {
    pub fn parse(text: &str, survey: &Survey) -> Result<Self, TagFilterError> {
        let (key, value) = text
            .split_once(['=', ':'])
            .map(|(key, value)| (key.trim(), value.trim()))
            .filter(|(key, value)| !key.is_empty() && !value.is_empty())
            .ok_or_else(|| TagFilterError::Malformed(text.to_owned()))?;
        if !survey.has_dimension(key) {
            return Err(Invalid::UnknownTag(key.to_owned()).into());
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }

    /// As the API writes it back: `agent=alice`.
    pub fn text(&self) -> String {
        format!("{}={}", self.key, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_defaults_to_the_thirty_days_ending_today() {
        let range = DayRange::new(None, None, Day(20_029), MAX_DAYS).unwrap();
        assert_eq!((range.from, range.to), (Day(20_000), Day(20_029)));
    }

    #[test]
    fn a_reversed_or_too_long_range_is_refused() {
        assert_eq!(
            DayRange::new(Some(Day(5)), Some(Day(4)), Day(9), MAX_DAYS),
            Err(RangeError::Reversed {
                from: Day(5),
                to: Day(4)
            })
        );
        assert!(DayRange::new(Some(Day(0)), Some(Day(30)), Day(30), 31).is_ok());
        assert_eq!(
            DayRange::new(Some(Day(0)), Some(Day(31)), Day(31), 31),
            Err(RangeError::TooLong { max: 31 })
        );
    }

    #[test]
    fn a_group_under_the_survey_min_group_size_is_too_few_to_show() {
        let mut survey = Survey::example("s");
        survey.min_group_size = 3;
        assert!(too_few(0, &survey));
        assert!(too_few(2, &survey));
        assert!(!too_few(3, &survey));
    }

    #[test]
    fn a_tag_filter_reads_both_spellings_and_knows_the_surveys_tags() {
        let mut survey = Survey::example("s");
        survey.tags = ["agent".to_owned()].into();
        let alice = TagFilter {
            key: "agent".into(),
            value: "alice".into(),
        };
        assert_eq!(TagFilter::parse("agent=alice", &survey).unwrap(), alice);
        assert_eq!(TagFilter::parse("agent:alice", &survey).unwrap(), alice);
        assert_eq!(alice.text(), "agent=alice");
        assert!(matches!(
            TagFilter::parse("alice", &survey),
            Err(TagFilterError::Malformed(_))
        ));
        assert!(matches!(
            TagFilter::parse("team=a", &survey),
            Err(TagFilterError::Unknown(Invalid::UnknownTag(_)))
        ));
        assert_eq!(TagFilter::parse("lang=fr", &survey).unwrap().key, "lang");
    }
}
