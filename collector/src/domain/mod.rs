//! The domain: values that are valid by construction, and the rules between them. Wire structs
//! become these at the edge (`rating::Rating::parse`), so code past that point never re-checks a
//! field. Nothing here knows HTTP or a storage engine: it imports only `wire` and plain crates.

pub mod api_key;
pub mod calendar;
pub mod figures;
pub mod kind;
pub mod lang;
pub mod limits;
pub mod rating;
pub mod registration;
pub mod report;
pub mod response;
pub mod signature;
pub mod survey;

pub use calendar::{Day, Hour};
pub use kind::Kind;
pub use lang::Lang;
pub use rating::{Comment, Interaction, Invalid, Rating, RatingError, ResponseId, Score, TagSet};
pub use response::{Change, Refusal, Response};
pub use signature::Secret;
pub use survey::{Alert, Survey, SurveyId, Surveys, Texts, Theme};
