//! The domain: values that are valid by construction. Wire structs become these at the edge
//! (`rating::Rating::parse`), so code past that point never re-checks a field.

pub mod calendar;
pub mod figures;
pub mod rating;
pub mod signature;
pub mod survey;

pub use calendar::{Day, Hour};
pub use rating::{Comment, Interaction, Rating, ResponseId, Score, TagSet};
pub use signature::Secret;
pub use survey::{Alert, Survey, SurveyId, Surveys, Theme};
