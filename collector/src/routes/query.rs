//! The query parameters of the read endpoints, parsed into domain values (and described in the
//! OpenAPI document from the same structs). Each endpoint takes the groups it needs; a
//! parameter one does not take is ignored.

use super::error::ApiError;
use crate::domain::report::{DayRange, MAX_DAYS, MAX_HOURLY_DAYS, TagFilter};
use crate::domain::{Day, Survey};
use crate::service::reports::Interval;
use serde::Deserialize;
use time::OffsetDateTime;
use utoipa::IntoParams;

/// The days a read covers.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RangeQuery {
    /// First UTC day, inclusive; default: 29 days before `to` (30 days in all).
    #[param(value_type = Option<String>, format = Date, example = "2026-11-01")]
    from: Option<Day>,
    /// Last UTC day, inclusive; default: today. A range spans at most 400 days (31 for
    /// `interval=hour`).
    #[param(value_type = Option<String>, format = Date, example = "2026-11-30")]
    to: Option<Day>,
}

impl RangeQuery {
    /// The range asked for, at most `max_days` long.
    pub fn range(&self, max_days: u32) -> Result<DayRange, ApiError> {
        let today = Day::of(OffsetDateTime::now_utc());
        Ok(DayRange::new(self.from, self.to, today, max_days)?)
    }

    /// The range of an export: everything when no day is named.
    pub fn export_range(&self) -> Result<Option<DayRange>, ApiError> {
        if self.from.is_none() && self.to.is_none() {
            return Ok(None);
        }
        let today = Day::of(OffsetDateTime::now_utc());
        let from = self.from.unwrap_or(Day(0));
        Ok(Some(DayRange::new(Some(from), self.to, today, u32::MAX)?))
    }
}

/// One tag value to filter by.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TagQuery {
    /// Only responses with this tag value, as `key=value` (`key:value` is read too). One per
    /// read.
    #[param(example = "agent=alice")]
    tag: Option<String>,
}

impl TagQuery {
    pub fn filter(&self, survey: &Survey) -> Result<Option<TagFilter>, ApiError> {
        self.tag
            .as_deref()
            .map(|text| TagFilter::parse(text, survey).map_err(ApiError::from))
            .transpose()
    }

    pub fn is_given(&self) -> bool {
        self.tag.is_some()
    }
}

/// A timeseries' bucket size.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IntervalQuery {
    /// `day` (default) or `hour`.
    #[param(inline)]
    #[serde(default)]
    interval: IntervalParam,
}

#[derive(Debug, Default, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IntervalParam {
    #[default]
    Day,
    Hour,
}

impl IntervalQuery {
    /// The interval, and the longest range it may span.
    pub fn interval(&self) -> (Interval, u32) {
        match self.interval {
            IntervalParam::Day => (Interval::Day, MAX_DAYS),
            IntervalParam::Hour => (Interval::Hour, MAX_HOURLY_DAYS),
        }
    }
}

/// The tag a breakdown groups by.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ByQuery {
    /// The tag key to group by: one of the survey's `tags`, or `lang` for the language the
    /// customers answered in.
    #[param(example = "agent")]
    by: Option<String>,
}

impl ByQuery {
    pub fn tag<'a>(&'a self, survey: &Survey) -> Result<&'a str, ApiError> {
        let by = self
            .by
            .as_deref()
            .ok_or_else(|| ApiError::BadQuery("breakdown needs by=<tag>, e.g. by=agent".into()))?;
        if !survey.has_dimension(by) {
            return Err(crate::domain::Invalid::UnknownTag(by.to_owned()).into());
        }
        Ok(by)
    }
}

/// The languages a visitor reads, most wanted first.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LangQuery {
    /// Comma-separated BCP 47 tags, most wanted first (`data-lang`, else `navigator.languages`):
    /// the first the survey has wins, `pt-BR` falling back to `pt`; none of them means the
    /// survey's default texts.
    #[param(example = "pt-BR,pt,en")]
    lang: Option<String>,
}

/// Languages asked for beyond this many are not looked at: browsers list a handful.
const MAX_LANGUAGES_ASKED: usize = 32;

impl LangQuery {
    /// The languages asked for, as given (empty when none).
    pub fn requested(&self) -> &str {
        let list = self.lang.as_deref().unwrap_or_default();
        match list.match_indices(',').nth(MAX_LANGUAGES_ASKED - 1) {
            Some((cut, _)) => &list[..cut],
            None => list,
        }
    }
}

/// An export's format.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportFormatQuery {
    /// `ndjson` (default) or `csv`.
    #[param(inline)]
    #[serde(default)]
    pub format: ExportFormat,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    #[default]
    Ndjson,
    Csv,
}

/// A page of comments.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many comments, 1 to 100; default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<usize>,
    /// Continue from an earlier page's `next_before`.
    pub before: Option<u64>,
}

const DEFAULT_COMMENTS: usize = 20;
const MAX_COMMENTS: usize = 100;

impl PageQuery {
    pub fn limit(&self) -> Result<usize, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_COMMENTS);
        if (1..=MAX_COMMENTS).contains(&limit) {
            Ok(limit)
        } else {
            Err(ApiError::BadQuery(format!(
                "limit must be between 1 and {MAX_COMMENTS}, got {limit}"
            )))
        }
    }
}
