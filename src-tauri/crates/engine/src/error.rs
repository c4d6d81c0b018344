//! The engine's one error type. Every variant has a stable `code` (the UI's and the CLI's
//! `{code, message}`) and a sentence a person understands. Never a message body or a key.

use serde::{Deserialize, Serialize};
use switchboard_carrier::CarrierError;
use switchboard_core::composer::ComposeError;
use switchboard_core::error_code::ErrorCode;
use switchboard_core::media::{self, MediaError};
use switchboard_core::model::Line;
use switchboard_core::phone::{self, CountryError, PhoneError};
use switchboard_core::resolve::{PickReason, ResolveError};
use switchboard_core::triage::SnoozeError;
use switchboard_core::when::WhenError;
use switchboard_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{input:?}: {source}")]
    Phone {
        input: String,
        #[source]
        source: PhoneError,
    },
    #[error("{0}")]
    Country(#[from] CountryError),
    #[error("{0}")]
    Compose(#[from] ComposeError),
    #[error("{0}")]
    Resolve(#[from] ResolveError),
    #[error("{0}")]
    Media(#[from] MediaError),
    #[error("{0}")]
    SendAt(#[from] switchboard_core::schedule::SendAtError),
    #[error("{0}")]
    Snooze(#[from] SnoozeError),
    /// A time typed by a person (core's `when`) could not be used.
    #[error("{0}")]
    When(#[from] WhenError),
    /// What a person typed to name a conversation matches none.
    #[error("No conversation matches {input:?}: give its id (see `threads`), a number or a contact's name.")]
    UnknownThread { input: String },
    #[error("{input:?} matches several conversations: {}. Give the conversation's id instead.", candidates.join(", "))]
    AmbiguousThread {
        input: String,
        candidates: Vec<String>,
    },
    /// DESIGN.md's table requires the user to pick the sending line; nothing was sent.
    #[error("{}", pick_message(*reason, lines))]
    LinePickRequired {
        reason: PickReason,
        lines: Vec<Line>,
    },
    #[error("No contact or phone number matches {input:?}.")]
    UnknownRecipient { input: String },
    /// Every recipient opted out of the line (they texted STOP): nothing was queued.
    #[error("{}", opted_out_message(names, line))]
    OptedOut { names: Vec<String>, line: String },
    #[error("{input:?} matches several numbers: {}. Give the number instead.", candidates.join(", "))]
    AmbiguousRecipient {
        input: String,
        candidates: Vec<String>,
    },
    #[error("You have no line called {input:?}. Your lines: {}.", known.join(", "))]
    UnknownLine { input: String, known: Vec<String> },
    #[error("No contact matches {input:?}.")]
    UnknownContact { input: String },
    /// A template that does not parse, or a name or text out of limits.
    #[error("{0}")]
    Template(#[from] switchboard_core::templates::TemplateError),
    #[error("A template called \u{201c}{name}\u{201d} already exists: choose another name, or remove that one first.")]
    TemplateExists { name: String },
    /// `name` is what a person asked for; `None` for a template removed meanwhile.
    #[error("{}", template_not_found_message(name.as_deref(), known))]
    TemplateNotFound {
        name: Option<String>,
        known: Vec<String>,
    },
    /// A template's variable has no value for some recipients: one sentence each; nothing was
    /// queued.
    #[error(
        "{}. Add a name to the contact, or take the variable out of the text.",
        missing.join("; ")
    )]
    TemplateMissing { missing: Vec<String> },
    #[error("The image could not be read: it may be damaged.")]
    ImageUnreadable,
    #[error("The image could not be made small enough to send ({bytes} bytes over a {budget}-byte limit).")]
    ImageTooLargeToSend { bytes: usize, budget: usize },
    /// One file of several was refused; `position` counts from 1, as a person does.
    #[error("{}", image_at_message(*position, source))]
    ImageAt {
        position: usize,
        source: Box<EngineError>,
    },
    #[error(
        "These {count} images can't be made small enough to go in one message, which carries {} \
         of images in all. Remove one, or send them in two messages.",
        megabytes(*budget)
    )]
    ImagesTooLargeToSend { count: usize, budget: usize },
    #[error("{what} {why}")]
    Invalid { what: &'static str, why: String },
    /// A page of threads, messages or hits asked for none, or for more than a page holds.
    #[error("A page holds 1 to {max} items.")]
    PageSize { max: usize },
    #[error("Search for at most {max} characters.")]
    QueryTooLong { max: usize },
    #[error("This file is too large for an address book (more than {} MB).", max_bytes / (1024 * 1024))]
    ImportTooLarge { max_bytes: usize },
    /// The carrier (or the media host) refused, could not be reached, or left an outcome open.
    #[error("{0}")]
    Carrier(switchboard_carrier::CarrierError),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// "The 2nd file is not a JPEG, PNG or GIF image.": the refusal of one file of several, in the
/// words of its cause.
fn image_at_message(position: usize, source: &EngineError) -> String {
    let file = format!("The {} file", media::ordinal(position));
    match source {
        EngineError::Media(MediaError::NotAnImage) => {
            format!("{file} is not a JPEG, PNG or GIF image.")
        }
        EngineError::Media(MediaError::Empty) => format!("{file} is empty."),
        EngineError::Media(e @ MediaError::TooLarge { .. }) => {
            format!("{file}: {e}")
        }
        EngineError::ImageUnreadable => format!("{file} could not be read: it may be damaged."),
        other => format!("{file}: {other}"),
    }
}

fn template_not_found_message(name: Option<&str>, known: &[String]) -> String {
    let first = match name {
        Some(name) => format!("No template is called \u{201c}{name}\u{201d}."),
        None => "That template no longer exists.".to_owned(),
    };
    match known {
        [] => format!("{first} You have no templates yet."),
        known => format!("{first} Your templates: {}.", known.join(", ")),
    }
}

/// Whole megabytes when the figure is whole ("5 MB"), else one decimal.
fn megabytes(bytes: usize) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    match mb.fract() == 0.0 {
        true => format!("{mb:.0} MB"),
        false => format!("{mb:.1} MB"),
    }
}

fn pick_message(reason: PickReason, lines: &[Line]) -> String {
    let why = match reason {
        PickReason::NoDefault => "Not every recipient has a default line",
        PickReason::DefaultsDiffer => "The recipients' default lines differ",
    };
    let names: Vec<String> = lines
        .iter()
        .map(|l| format!("{} ({})", l.label, phone::format_international(&l.number)))
        .collect();
    format!(
        "{why}: choose the line to send from — {}.",
        names.join(", ")
    )
}

impl EngineError {
    pub fn phone(input: &str, source: PhoneError) -> EngineError {
        EngineError::Phone {
            input: input.to_owned(),
            source,
        }
    }

    /// A stable snake_case name, the `code` of `{code, message}`.
    pub fn code(&self) -> ErrorCode {
        match self {
            EngineError::Phone { source, .. } => source.code(),
            EngineError::Country(e) => e.code(),
            EngineError::Compose(e) => e.code(),
            EngineError::Resolve(e) => e.code(),
            EngineError::Media(e) => e.code(),
            EngineError::Snooze(e) => e.code(),
            EngineError::When(e) => e.code(),
            EngineError::UnknownThread { .. } => ErrorCode::ThreadNotFound,
            EngineError::AmbiguousThread { .. } => ErrorCode::AmbiguousThread,
            EngineError::LinePickRequired { .. } => ErrorCode::LinePickRequired,
            EngineError::UnknownRecipient { .. } => ErrorCode::UnknownRecipient,
            EngineError::OptedOut { .. } => ErrorCode::OptedOut,
            EngineError::SendAt(_) => ErrorCode::SendAtInvalid,
            EngineError::AmbiguousRecipient { .. } => ErrorCode::AmbiguousRecipient,
            EngineError::UnknownLine { .. } => ErrorCode::UnknownLine,
            EngineError::UnknownContact { .. } => ErrorCode::UnknownContact,
            EngineError::Template(e) => e.code(),
            EngineError::TemplateExists { .. } => ErrorCode::TemplateExists,
            EngineError::TemplateNotFound { .. } => ErrorCode::TemplateNotFound,
            EngineError::TemplateMissing { .. } => ErrorCode::TemplateMissingValue,
            EngineError::ImageUnreadable => ErrorCode::ImageUnreadable,
            EngineError::ImageTooLargeToSend { .. } | EngineError::ImagesTooLargeToSend { .. } => {
                ErrorCode::ImageTooLargeToSend
            }
            EngineError::ImageAt { source, .. } => source.code(),
            EngineError::Invalid { .. }
            | EngineError::PageSize { .. }
            | EngineError::QueryTooLong { .. } => ErrorCode::InvalidInput,
            EngineError::ImportTooLarge { .. } => ErrorCode::FileTooLarge,
            EngineError::Carrier(e) => match e {
                CarrierError::Transient { .. } => ErrorCode::CarrierUnreachable,
                CarrierError::Permanent { code: Some(c), .. } if c == "20003" => {
                    ErrorCode::CarrierCredentialsRefused
                }
                CarrierError::Permanent { .. } => ErrorCode::CarrierRefused,
                CarrierError::Unknown { .. } => ErrorCode::CarrierOutcomeUnknown,
            },
            EngineError::Store(e) => e.code(),
        }
    }

    /// What kind of failure this is, for callers that map errors to exit codes or UI states.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::LinePickRequired { .. } => ErrorKind::NeedsChoice,
            EngineError::Carrier(CarrierError::Permanent { .. }) => ErrorKind::InvalidInput,
            EngineError::Carrier(_) => ErrorKind::Unavailable,
            EngineError::UnknownContact { .. }
            | EngineError::UnknownThread { .. }
            | EngineError::TemplateNotFound { .. }
            | EngineError::UnknownLine { .. }
            | EngineError::UnknownRecipient { .. } => ErrorKind::NotFound,
            EngineError::Store(e) => match e {
                StoreError::LineNotFound(_)
                | StoreError::ContactNotFound(_)
                | StoreError::TemplateNotFound(_)
                | StoreError::ThreadNotFound(_)
                | StoreError::MessageNotFound(_)
                | StoreError::OutboxJobNotFound(_)
                | StoreError::ScheduledNotFound(_) => ErrorKind::NotFound,
                StoreError::WrongKeyOrNotADatabase { .. }
                | StoreError::FromTheFuture { .. }
                | StoreError::DatabaseMissing { .. }
                | StoreError::DatabaseExists { .. }
                | StoreError::KeychainUnavailable { .. }
                | StoreError::KeyMissing { .. }
                | StoreError::KeychainKeyMalformed
                | StoreError::KeyFileInsecure { .. }
                | StoreError::KeyFileNotRegular { .. }
                | StoreError::KeyFileWrongOwner { .. }
                | StoreError::KeyFileMalformed { .. }
                | StoreError::KeyFileMissing { .. }
                | StoreError::KeyFileUnsupported { .. }
                | StoreError::EmptyPassphrase
                | StoreError::KeySourceMismatch { .. }
                | StoreError::KeychainAccountMismatch { .. }
                | StoreError::StoreConfigMalformed { .. } => ErrorKind::Store,
                StoreError::Corrupt(_) | StoreError::Sqlite(_) | StoreError::Io { .. } => {
                    ErrorKind::Internal
                }
                _ => ErrorKind::InvalidInput,
            },
            _ => ErrorKind::InvalidInput,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
        }
    }
}

/// Coarse classes of failure; the CLI's exit codes follow them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input was refused; fix it and try again.
    InvalidInput,
    /// A choice is needed first (the sending line).
    NeedsChoice,
    NotFound,
    /// The carrier or the media host can't be reached now; try again later.
    Unavailable,
    /// The store cannot be opened (key, keychain, version, damaged file).
    Store,
    Internal,
}

/// The error as every client shows it: `{code, message}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

fn opted_out_message(names: &[String], line: &str) -> String {
    let who = match names {
        [one] => format!("{one} has"),
        [rest @ .., last] => format!("{} and {last} have", rest.join(", ")),
        [] => "These recipients have".to_owned(),
    };
    format!(
        "{who} opted out of messages from {line} (they replied STOP): nothing can be sent to \
         them from {line} until they text START to it."
    )
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;
