//! The limits on what nobody vouched for. A customer's browser is anonymous: nothing stops a
//! script from posting like a thousand customers. So a survey takes at most
//! `max_unverified_per_day` new responses a day that no write-key holder vouched for, and each
//! tag at most `max_tag_values` distinct values from them. What is vouched for (signed) is never
//! refused, so an office behind one address rating its internal helpdesk is never throttled.
//!
//! These are pure rules: the store counts (in the transaction that writes, so the check and the
//! write can't be split by another request) and asks them.

use super::response::Refusal;
use super::survey::Survey;

/// Whether a new unverified response may be created: its sender must have some of its daily
/// allowance left (`allowance_left`, counted per visitor by the service), and the survey must
/// have created fewer than its ceiling today (`created_today`).
pub fn admit_unverified_response(
    allowance_left: bool,
    created_today: u64,
    survey: &Survey,
) -> Result<(), Refusal> {
    if !allowance_left {
        Err(Refusal::VisitorLimit)
    } else if created_today >= survey.max_unverified_per_day {
        Err(Refusal::UnverifiedLimit {
            max: survey.max_unverified_per_day,
        })
    } else {
        Ok(())
    }
}

/// Whether an unverified response or impression may give tag `key` a value it never had, when
/// the tag already has `distinct` values (vouched-for ones included: they count, but are never
/// refused).
pub fn admit_unverified_tag_value(
    key: &str,
    distinct: u64,
    survey: &Survey,
) -> Result<(), Refusal> {
    if distinct < survey.max_tag_values {
        Ok(())
    } else {
        Err(Refusal::TooManyTagValues {
            tag: key.to_owned(),
            max: survey.max_tag_values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_ceiling_admits_exactly_its_number() {
        let mut survey = Survey::example("s");
        survey.max_unverified_per_day = 2;
        assert!(admit_unverified_response(true, 0, &survey).is_ok());
        assert!(admit_unverified_response(true, 1, &survey).is_ok());
        assert_eq!(
            admit_unverified_response(true, 2, &survey),
            Err(Refusal::UnverifiedLimit { max: 2 })
        );
    }

    #[test]
    fn a_visitor_without_allowance_adds_no_new_unverified_response() {
        let survey = Survey::example("s");
        assert_eq!(
            admit_unverified_response(false, 0, &survey),
            Err(Refusal::VisitorLimit)
        );
    }

    #[test]
    fn a_tag_takes_new_unverified_values_up_to_its_cap() {
        let mut survey = Survey::example("s");
        survey.max_tag_values = 3;
        assert!(admit_unverified_tag_value("agent", 2, &survey).is_ok());
        assert_eq!(
            admit_unverified_tag_value("agent", 3, &survey),
            Err(Refusal::TooManyTagValues {
                tag: "agent".into(),
                max: 3
            })
        );
    }
}
