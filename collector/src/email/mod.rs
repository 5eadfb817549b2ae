//! Email links: one signed link per button (emoji or number), a snippet to paste into an email,
//! and the pages those links open. (`collector email-links`, which signs a helpdesk's tickets in bulk, is
//! `cli::email_links`.)
//!
//! Mail servers open every link of a message to scan it, and email clients run no script. So
//! opening a link records nothing but an unconfirmed click: the landing page records the rating
//! from the browser (the widget), or its form does when the browser can't run the widget. Each
//! link's signature covers survey, score, interaction and tags, so an edited link is dead, not
//! another rating.
//!
//! A link reads `{collector}/r/{survey}/{score}?i=<interaction>&t=<k=v,k=v>&l=<lang>&s=<signature>`:
//! the email, its landing page and the rating it records are all in the language `l`.

mod html;
pub mod pages;
mod snippet;

pub use html::escape;
pub use snippet::{Link, Snippet, snippet};

use crate::domain::rating::Subject;
use crate::domain::signature::LinkFields;
use crate::domain::{
    Comment, Interaction, Invalid, Lang, Rating, ResponseId, Score, Secret, Survey, TagSet, Texts,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use pulsetap_wire::{Tags, tags};
use serde::{Deserialize, Serialize};

/// What a query value must escape. `=` and `,` are left as they are: they separate tags, a
/// query value may hold them, and `t=agent=alice,channel=email` stays readable in a mail client's
/// status bar. Everything else that is not unreserved is escaped, `+` included, which form
/// decoders would read as a space.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'=')
    .remove(b',');

/// Why links can't be made, or why a link is not one of ours.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(
        "survey {0:?} has no secret, and email links must be signed: give it a `secret` in the configuration"
    )]
    NoSecret(String),
    #[error("the link's signature does not match its survey, score, interaction and tags")]
    BadSignature,
    /// Tags without a tag-text form (`pulsetap_wire::tags`): the link, and the widget on its
    /// landing page, could not carry them exactly.
    #[error("these tags can't go into an email link: {0}")]
    TagNotWritable(tags::TagTextError),
    #[error("{0}")]
    Invalid(#[from] Invalid),
}

/// The collector as customers reach it: `https://feedback.example.com`, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Only a scheme and host (and port): the landing page loads `/pulsetap.js` and posts to
    /// `/r/…` from the root, so a collector behind a path prefix could not serve its links.
    pub fn parse(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text.trim())
            .map_err(|error| format!("base URL {text:?} is not a URL: {error}"))?;
        let plain = matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.path() == "/"
            && url.query().is_none()
            && url.fragment().is_none()
            && url.username().is_empty()
            && url.password().is_none();
        if !plain {
            return Err(format!(
                "base URL {text:?} must be a scheme and host like \"https://feedback.example.com\", without a path"
            ));
        }
        Ok(Self(url.origin().ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `GET /v1/surveys/{survey}/email?format=json`, and one line of `collector email-links
/// --format ndjson`: every link of one email, and the snippet that shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailLinks {
    pub survey: String,
    pub interaction: String,
    pub tags: Tags,
    /// The language of the email's texts, its links and the pages they open.
    pub lang: String,
    pub question: String,
    /// Lowest score first, one per button of the survey's scale.
    pub links: Vec<Link>,
    /// The snippet to paste into an email: a table of links with inline styles.
    pub html: String,
}

/// The parameters of a link as they arrive: `?i=…&t=…&l=…&s=…`. A helpdesk's template link has
/// no `t` and no `s` (see [`Template`]): no signature, trusted through the registry.
#[derive(Debug, Clone, Deserialize)]
pub struct LinkQuery {
    pub i: String,
    #[serde(default)]
    pub t: String,
    /// The language; absent from links made before links had one. Not signed on a template
    /// link: it only chooses the texts.
    #[serde(default)]
    pub l: Option<String>,
    #[serde(default)]
    pub s: String,
}

impl LinkQuery {
    /// A template link: no signature, so only the registry can vouch for it.
    pub fn is_unsigned(&self) -> bool {
        self.s.is_empty()
    }
}

/// Who vouches for an invitation's interaction and tags.
#[derive(Debug, Clone, Copy)]
enum Proof<'a> {
    /// Each link is signed with the survey's secret.
    Signed(&'a Secret),
    /// A helpdesk registered the interaction with these tags; its links carry no signature.
    Registered,
}

/// An invitation to rate one interaction by email: a survey, an interaction and its tags, all
/// valid, vouched for by a signature or by the registry, and the language the email speaks.
/// Every link of one email comes from the same invitation.
#[derive(Debug, Clone)]
pub struct Invitation<'a> {
    survey: &'a Survey,
    proof: Proof<'a>,
    interaction: Interaction,
    tags: TagSet,
    /// One of the survey's languages; `None` for a link made before links had one.
    lang: Option<Lang>,
}

/// A helpdesk whose macros fill a ticket id into a link, and the placeholder they fill. The
/// links of a template carry that placeholder as the interaction, left as it is (never
/// percent-encoded), and no signature: a helpdesk can't compute one, so its tickets are
/// registered instead (`POST /v1/surveys/{survey}/interactions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Template {
    /// Zendesk triggers and macros: `{{ticket.id}}`.
    Zendesk,
    /// Freshdesk automations and canned responses: `{{ticket.id}}`.
    Freshdesk,
    /// Help Scout saved replies and workflows: `{%conversation.number%}`.
    Helpscout,
    /// Gorgias macros and rules: `{{ticket.id}}`.
    Gorgias,
    /// Any other mailer (Handlebars, Liquid, Mustache, Jinja): `{{interaction}}`.
    Plain,
}

impl Template {
    /// The text the helpdesk replaces with the ticket's id when it sends the email.
    pub fn placeholder(self) -> &'static str {
        match self {
            Self::Zendesk | Self::Freshdesk | Self::Gorgias => "{{ticket.id}}",
            Self::Helpscout => "{%conversation.number%}",
            Self::Plain => "{{interaction}}",
        }
    }

    /// One link per button with the placeholder where the ticket id goes, and the snippet, in
    /// `lang` (one of the survey's languages).
    pub fn email(self, survey: &Survey, base: &BaseUrl, lang: &Lang) -> EmailLinks {
        let placeholder = self.placeholder();
        let texts = survey.texts_in(lang);
        let links: Vec<Link> = survey
            .scale
            .iter()
            .zip(&texts.labels)
            .zip(survey.scores())
            .map(|((face, label), score)| Link {
                score,
                emoji: face.clone(),
                label: label.clone(),
                // The placeholder goes in as it is: percent-encoded, the helpdesk would not
                // recognise it. It fills in a plain ticket number (or id), which needs no
                // encoding either. The language is not signed: it only chooses the texts.
                url: format!(
                    "{}/r/{}/{score}?i={placeholder}&l={lang}",
                    base.as_str(),
                    survey.id
                ),
            })
            .collect();
        EmailLinks {
            survey: survey.id.to_string(),
            interaction: placeholder.to_owned(),
            tags: Tags::new(),
            lang: lang.to_string(),
            question: texts.question.clone(),
            html: snippet(&Snippet {
                kind: survey.kind,
                lang,
                texts,
                links: &links,
            }),
            links,
        }
    }
}

impl<'a> Invitation<'a> {
    /// An invitation in the survey's default language (see [`Invitation::speaking`]).
    pub fn new(survey: &'a Survey, interaction: &str, tags: Tags) -> Result<Self, LinkError> {
        let secret = survey
            .secret
            .as_ref()
            .ok_or_else(|| LinkError::NoSecret(survey.id.to_string()))?;
        let interaction = Interaction::parse(interaction)?;
        tags::format(&tags).map_err(LinkError::TagNotWritable)?;
        let tags = TagSet::parse(tags, survey)?;
        Ok(Self {
            survey,
            proof: Proof::Signed(secret),
            interaction,
            tags,
            lang: Some(survey.lang.clone()),
        })
    }

    /// The invitation of a template link whose interaction the registry vouches for, with the
    /// registered tags.
    pub fn registered(survey: &'a Survey, interaction: &str, tags: Tags) -> Result<Self, Invalid> {
        Ok(Self {
            survey,
            proof: Proof::Registered,
            interaction: Interaction::parse(interaction)?,
            tags: TagSet::registered(tags, survey),
            lang: Some(survey.lang.clone()),
        })
    }

    /// Whether the registry, not a signature, vouches for it.
    pub fn is_registered(&self) -> bool {
        matches!(self.proof, Proof::Registered)
    }

    /// The same invitation in the first language of `requested` (a comma-separated list, most
    /// wanted first) the survey speaks, else in its default language: as the widget chooses.
    pub fn speaking(mut self, requested: &str) -> Self {
        self.lang = Some(self.survey.negotiate(requested).clone());
        self
    }

    /// The invitation a link was made for, and the score it stands for. The signature is
    /// checked before anything else, so every edit (a score out of range, another language
    /// included) is the same `BadSignature`; only a link we did sign can then fail on content,
    /// when the configuration changed since (a tag key removed, a shorter scale). A language
    /// the survey no longer speaks falls back to its default texts.
    pub fn from_link(
        survey: &'a Survey,
        score: u8,
        link: &LinkQuery,
    ) -> Result<(Self, Score), LinkError> {
        let secret = survey.secret.as_ref().ok_or(LinkError::BadSignature)?;
        let tags = tags::parse(&link.t).map_err(|_| LinkError::BadSignature)?;
        let signed = LinkFields {
            survey: survey.id.as_str(),
            score,
            interaction: &link.i,
            tags: &tags,
            lang: link.l.as_deref(),
        };
        if !secret.verify_link(&signed, &link.s) {
            return Err(LinkError::BadSignature);
        }
        let score = Score::parse(score, survey)?;
        let mut invitation = Self::new(survey, &link.i, tags)?;
        invitation.lang = link
            .l
            .as_deref()
            .map(|lang| survey.language(lang).unwrap_or(&survey.lang).clone());
        Ok((invitation, score))
    }

    pub fn survey(&self) -> &'a Survey {
        self.survey
    }

    pub fn interaction(&self) -> &str {
        self.interaction.as_str()
    }

    pub fn tags(&self) -> &Tags {
        self.tags.as_map()
    }

    /// The language of the email, `None` for a link made before links had one.
    pub fn lang(&self) -> Option<&Lang> {
        self.lang.as_ref()
    }

    /// The texts of the email and its pages: in its language, else the default texts.
    pub fn texts(&self) -> &'a Texts {
        match &self.lang {
            Some(lang) => self.survey.texts_in(lang),
            None => &self.survey.texts,
        }
    }

    /// The tags as `data-tags` and the `t` parameter write them: `agent=alice,channel=email`.
    /// Empty for a registered invitation: its links carry no tags, the registry holds them.
    pub fn tags_text(&self) -> String {
        match self.proof {
            Proof::Signed(_) => tags::format(self.tags())
                .expect("an invitation's tags have a text form (checked in new)"),
            Proof::Registered => String::new(),
        }
    }

    /// The signature of the interaction itself (not of one link), which lets the widget on the
    /// landing page answer it and change the answer, as the signed owner. None for a registered
    /// invitation: the registry vouches for its ratings wherever they come from.
    pub fn interaction_sig(&self) -> Option<String> {
        match self.proof {
            Proof::Signed(secret) => Some(secret.sign_interaction(
                self.survey.id.as_str(),
                Some(self.interaction()),
                self.tags(),
            )),
            Proof::Registered => None,
        }
    }

    /// The parameters of the link for `score` (signed, unless registered).
    pub fn link_query(&self, score: u8) -> LinkQuery {
        let lang = self.lang.as_ref().map(Lang::as_str);
        LinkQuery {
            i: self.interaction().to_owned(),
            t: self.tags_text(),
            l: lang.map(str::to_owned),
            s: match self.proof {
                Proof::Signed(secret) => secret.sign_link(&LinkFields {
                    survey: self.survey.id.as_str(),
                    score,
                    interaction: self.interaction(),
                    tags: self.tags(),
                    lang,
                }),
                Proof::Registered => String::new(),
            },
        }
    }

    /// `/r/{survey}/{score}?i=…&t=…&l=…&s=…`, relative to the collector.
    pub fn path(&self, score: u8) -> String {
        let query = self.link_query(score);
        let mut path = format!(
            "/r/{}/{score}?i={}",
            self.survey.id,
            utf8_percent_encode(&query.i, QUERY_VALUE)
        );
        if !query.t.is_empty() {
            path.push_str("&t=");
            path.extend(utf8_percent_encode(&query.t, QUERY_VALUE));
        }
        if let Some(lang) = &query.l {
            path.push_str("&l=");
            path.push_str(lang);
        }
        if !query.s.is_empty() {
            path.push_str("&s=");
            path.push_str(&query.s);
        }
        path
    }

    /// One link per button of the survey, lowest score first.
    pub fn links(&self, base: &BaseUrl) -> Vec<Link> {
        self.survey
            .scale
            .iter()
            .zip(&self.texts().labels)
            .zip(self.survey.scores())
            .map(|((face, label), score)| Link {
                score,
                emoji: face.clone(),
                label: label.clone(),
                url: format!("{}{}", base.as_str(), self.path(score)),
            })
            .collect()
    }

    /// Every link with the snippet that shows them.
    pub fn email(&self, base: &BaseUrl) -> EmailLinks {
        let links = self.links(base);
        let texts = self.texts();
        let lang = self.lang.as_ref().unwrap_or(&self.survey.lang);
        EmailLinks {
            survey: self.survey.id.to_string(),
            interaction: self.interaction().to_owned(),
            tags: self.tags().clone(),
            lang: lang.to_string(),
            question: texts.question.clone(),
            html: snippet(&Snippet {
                kind: self.survey.kind,
                lang,
                texts,
                links: &links,
            }),
            links,
        }
    }

    /// The rating a confirmed link records: signed as the interaction's owner (the link's
    /// signature was checked), so it may change an earlier answer of the same interaction from
    /// any channel. `response_id` is fresh: the signature, not the id, is what lets a later
    /// confirm change the answer. A registered invitation's rating is vouched for by the
    /// registry, which the store reads as it writes it.
    pub fn rating(&self, score: Score, comment: &str) -> Result<Rating, Invalid> {
        Ok(Rating {
            subject: Subject {
                response_id: ResponseId::new_random(),
                interaction: Some(self.interaction.clone()),
                tags: self.tags.clone(),
                signed: matches!(self.proof, Proof::Signed(_)),
                registered: false,
                lang: self.lang.clone(),
            },
            score,
            comment: Comment::parse(comment)?,
        })
    }
}

#[cfg(test)]
mod tests;
