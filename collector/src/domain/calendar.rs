//! UTC days and hours as plain integers since the Unix epoch: they sort as bytes (big-endian) in
//! the counter keys, and a range of them is a range scan.

use time::{
    Date, Duration, OffsetDateTime, PrimitiveDateTime, Time,
    format_description::BorrowedFormatItem, macros::format_description,
};

const DAY_FORMAT: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

/// A UTC calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub u32);

/// A UTC hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hour(pub u32);

impl Day {
    pub fn of(at: OffsetDateTime) -> Self {
        Self((at.unix_timestamp().div_euclid(86_400)).max(0) as u32)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(text: &str) -> Option<Self> {
        let date = Date::parse(text, DAY_FORMAT).ok()?;
        Some(Self::of(
            PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc(),
        ))
    }

    pub fn start(self) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(i64::from(self.0))
    }

    pub fn first_hour(self) -> Hour {
        Hour(self.0 * 24)
    }

    pub fn last_hour(self) -> Hour {
        Hour(self.0 * 24 + 23)
    }

    pub fn minus(self, days: u32) -> Self {
        Self(self.0.saturating_sub(days))
    }
}

/// How long until the next UTC day, when the daily limits renew.
pub fn until_tomorrow(now: OffsetDateTime) -> std::time::Duration {
    let tomorrow = Day::of(now).0 + 1;
    let seconds = i64::from(tomorrow) * 86_400 - now.unix_timestamp();
    std::time::Duration::from_secs(seconds.max(1).unsigned_abs())
}

/// A day reads from `YYYY-MM-DD`, as the API's `from` and `to` are written.
impl<'de> serde::Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("{text:?} is not a date like 2026-11-30"))
        })
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let date = self.start().date();
        write!(
            f,
            "{:04}-{:02}-{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
    }
}

impl Hour {
    pub fn of(at: OffsetDateTime) -> Self {
        Self((at.unix_timestamp().div_euclid(3_600)).max(0) as u32)
    }
}

impl std::fmt::Display for Hour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let day = Day(self.0 / 24);
        write!(f, "{day}T{:02}:00Z", self.0 % 24)
    }
}

/// RFC 3339 in UTC with second precision, as exports and the live feed show times.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

pub fn unix_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_day_round_trips_through_its_text() {
        let day = Day::parse("2026-11-23").unwrap();
        assert_eq!(day.to_string(), "2026-11-23");
        assert_eq!(Day::of(datetime!(2026-11-23 23:59:59 UTC)), day);
    }

    #[test]
    fn an_hour_prints_as_a_utc_timestamp() {
        assert_eq!(
            Hour::of(datetime!(2026-11-23 07:30 UTC)).to_string(),
            "2026-11-23T07:00Z"
        );
    }

    #[test]
    fn nonsense_is_not_a_day() {
        assert_eq!(Day::parse("2026-13-01"), None);
        assert_eq!(Day::parse("yesterday"), None);
    }
}
