//! The figures marketers read, summed from the counters over the days asked: none of these
//! touches a response, so their cost follows the range, not the number of responses.
//!
//! Every read filtered by a tag value obeys the privacy floor (`domain::report::too_few`): a
//! group smaller than the survey's `min_group_size` is shown only as `too_few`.

use crate::domain::figures::Tally;
use crate::domain::report::{DayRange, TagFilter, too_few};
use crate::domain::{Day, Hour, Survey};
use crate::store::{CommentQuery, Dimension, Grain, Store, StoreError};
use pulsetap_wire::{Breakdown, Bucket, Comments, Figures, Group, Summary, Timeseries};

/// Whether a timeseries has a bucket per day or per hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Hour,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Hour => "hour",
        }
    }
}

fn dimension(tag: Option<&TagFilter>) -> Dimension<'_> {
    tag.map_or(Dimension::All, |tag| Dimension::Tag(&tag.key, &tag.value))
}

pub async fn summary(
    store: &Store,
    survey: &Survey,
    range: DayRange,
    tag: Option<&TagFilter>,
) -> Result<Summary, StoreError> {
    let total = store
        .total(&survey.id, &dimension(tag), range.from, range.to)
        .await?;
    let hidden = tag.is_some() && too_few(total.responses(), survey);
    Ok(Summary {
        survey: survey.id.to_string(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        tag: tag.map(TagFilter::text),
        too_few: hidden,
        figures: shown(hidden, &total, survey),
    })
}

/// One bucket per day or hour of the range, empty ones included.
pub async fn timeseries(
    store: &Store,
    survey: &Survey,
    range: DayRange,
    interval: Interval,
    tag: Option<&TagFilter>,
) -> Result<Timeseries, StoreError> {
    let (grain, first, last) = match interval {
        Interval::Day => (Grain::Day, range.from.0, range.to.0),
        Interval::Hour => (
            Grain::Hour,
            range.from.first_hour().0,
            range.to.last_hour().0,
        ),
    };
    let tallies = store
        .tallies(&survey.id, &dimension(tag), grain, first, last)
        .await?;
    let buckets = (first..=last)
        .map(|bucket| {
            let tally = tallies.get(&bucket).copied().unwrap_or_default();
            // Each bucket is a group of its own: a day with one response would otherwise show
            // what a summary of that one day hides.
            let hidden = tag.is_some() && too_few(tally.responses(), survey);
            Bucket {
                start: match interval {
                    Interval::Day => Day(bucket).to_string(),
                    Interval::Hour => Hour(bucket).to_string(),
                },
                too_few: hidden,
                figures: shown(hidden, &tally, survey),
            }
        })
        .collect();
    Ok(Timeseries {
        survey: survey.id.to_string(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        interval: interval.as_str().to_owned(),
        tag: tag.map(TagFilter::text),
        buckets,
    })
}

/// The figures per value of one tag; a group smaller than the survey's `min_group_size` is only
/// marked `too_few`, so no customer is singled out.
pub async fn breakdown(
    store: &Store,
    survey: &Survey,
    range: DayRange,
    by: &str,
) -> Result<Breakdown, StoreError> {
    let groups = store
        .totals_by(&survey.id, by, range.from, range.to)
        .await?
        .into_iter()
        .filter(|(_, total)| total.responses() > 0 || total.invited() > 0)
        .map(|(value, total)| {
            let hidden = too_few(total.responses(), survey);
            Group {
                value,
                too_few: hidden,
                figures: (!hidden).then(|| shown(false, &total, survey)),
            }
        })
        .collect();
    Ok(Breakdown {
        survey: survey.id.to_string(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        by: by.to_owned(),
        min_group_size: survey.min_group_size,
        groups,
    })
}

/// The figures of a group, or zeros when it is hidden (the wire leaves them out).
fn shown(hidden: bool, tally: &Tally, survey: &Survey) -> Figures {
    let tally = if hidden { Tally::default() } else { *tally };
    tally.figures(survey)
}

/// Whether the responses carrying `tag`, created in `range` (every day when `None`), are too
/// few to show.
pub async fn tag_too_few(
    store: &Store,
    survey: &Survey,
    range: Option<DayRange>,
    tag: &TagFilter,
) -> Result<bool, StoreError> {
    let (from, to) = range.map_or((Day(0), Day(u32::MAX)), |range| (range.from, range.to));
    let total = store
        .total(&survey.id, &dimension(Some(tag)), from, to)
        .await?;
    Ok(too_few(total.responses(), survey))
}

/// The latest responses with a comment, newest change first, each shown once.
pub async fn comments(
    store: &Store,
    survey: &Survey,
    range: DayRange,
    tag: Option<&TagFilter>,
    limit: usize,
    before: Option<u64>,
) -> Result<Comments, StoreError> {
    if let Some(tag) = tag
        && tag_too_few(store, survey, Some(range), tag).await?
    {
        return Ok(Comments {
            survey: survey.id.to_string(),
            too_few: true,
            comments: Vec::new(),
            next_before: None,
        });
    }
    let page = store
        .comments(CommentQuery {
            survey: survey.id.clone(),
            from: range.from,
            to: range.to,
            tag: tag.map(|tag| (tag.key.clone(), tag.value.clone())),
            limit,
            before,
        })
        .await?;
    Ok(Comments {
        survey: survey.id.to_string(),
        too_few: false,
        comments: page.comments.iter().map(|r| r.to_record()).collect(),
        next_before: page.next_before,
    })
}
