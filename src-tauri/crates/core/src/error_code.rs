//! Every error code a client can receive: the `code` of `{code, message}`, as the webview, the
//! CLI's `--json` output and the tests see it. One enum for all the crates that produce codes
//! (core, store, engine, and the app's shell), so that the compiler knows the list and ts-rs
//! writes it as the webview's `ErrorCode` union.

use serde::{Deserialize, Serialize};

/// Declares `ErrorCode` from `Variant = "code"` rows: serde, ts-rs and `as_str` all read the
/// one string, so they cannot disagree.
macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident = $code:literal,)*) => {
        /// A stable snake_case name for an error, the `code` of `{code, message}`.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            ts_rs::TS,
        )]
        pub enum ErrorCode {
            $($(#[$meta])* #[serde(rename = $code)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order of the list.
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as the JSON carries it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    // The rules (switchboard-core).
    NumberEmpty = "number_empty",
    NumberHasLetters = "number_has_letters",
    NumberTooShort = "number_too_short",
    NumberTooLong = "number_too_long",
    UnknownCountry = "unknown_country",
    UnknownCountryCode = "unknown_country_code",
    NotANumber = "not_a_number",
    InvalidNumber = "invalid_number",
    ChosenConflictsWithThread = "chosen_conflicts_with_thread",
    ThreadLineGone = "thread_line_gone",
    NoRecipients = "no_recipients",
    TooManyRecipients = "too_many_recipients",
    BodyTooLong = "body_too_long",
    EmptyMessage = "empty_message",
    TooManyImages = "too_many_images",
    LineHasNoMms = "line_has_no_mms",
    NoMediaHost = "no_media_host",
    SenderCannotReceive = "sender_cannot_receive",
    NoLines = "no_lines",
    FileEmpty = "file_empty",
    NotAnImage = "not_an_image",
    FileTooLarge = "file_too_large",
    TimeUnreadable = "time_unreadable",
    TimeNotOnTheClock = "time_not_on_the_clock",
    TimeInThePast = "time_in_the_past",
    SnoozeTooFar = "snooze_too_far",
    TemplateInvalid = "template_invalid",
    /// A template's variable has no value for a recipient (a number with no contact has no
    /// first name); nothing was queued.
    TemplateMissingValue = "template_missing_value",
    // The use cases (switchboard-engine): its errors and its runner's.
    LinePickRequired = "line_pick_required",
    UnknownRecipient = "unknown_recipient",
    AmbiguousRecipient = "ambiguous_recipient",
    AmbiguousThread = "ambiguous_thread",
    UnknownLine = "unknown_line",
    UnknownContact = "unknown_contact",
    ImageUnreadable = "image_unreadable",
    ImageTooLargeToSend = "image_too_large_to_send",
    /// Every recipient has opted out of the sending line (they texted STOP).
    OptedOut = "opted_out",
    /// A time to send at that is not in the future, or too far in it.
    SendAtInvalid = "send_at_invalid",
    InvalidInput = "invalid_input",
    CarrierUnreachable = "carrier_unreachable",
    CarrierCredentialsRefused = "carrier_credentials_refused",
    CarrierRefused = "carrier_refused",
    CarrierOutcomeUnknown = "carrier_outcome_unknown",
    /// Not an answer to a request but a failed message's code: the carrier would not say
    /// whether it has the message (see `outbox::JobState::Unconfirmed`).
    Unconfirmed = "unconfirmed",
    UnknownSetting = "unknown_setting",
    RunnerAlreadyRunning = "runner_already_running",
    RunnerLock = "runner_lock",
    // The encrypted store (switchboard-store).
    WrongKeyOrNotADatabase = "wrong_key_or_not_a_database",
    FromTheFuture = "from_the_future",
    DatabaseMissing = "database_missing",
    DatabaseExists = "database_exists",
    KeychainUnavailable = "keychain_unavailable",
    KeyMissing = "key_missing",
    KeychainKeyMalformed = "keychain_key_malformed",
    KeyFileInsecure = "key_file_insecure",
    KeyFileNotRegular = "key_file_not_regular",
    KeyFileWrongOwner = "key_file_wrong_owner",
    KeyFileMalformed = "key_file_malformed",
    KeyFileMissing = "key_file_missing",
    KeyFileUnsupported = "key_file_unsupported",
    EmptyPassphrase = "empty_passphrase",
    PassphraseControlCharacters = "passphrase_control_characters",
    KeySourceMismatch = "key_source_mismatch",
    KeychainAccountMismatch = "keychain_account_mismatch",
    StoreConfigMalformed = "store_config_malformed",
    LineNumberTaken = "line_number_taken",
    LineNotFound = "line_not_found",
    LineHasThreads = "line_has_threads",
    NumberTaken = "number_taken",
    ContactNotFound = "contact_not_found",
    TemplateNotFound = "template_not_found",
    TemplateExists = "template_exists",
    ThreadNotFound = "thread_not_found",
    MessageNotFound = "message_not_found",
    OutboxJobNotFound = "outbox_job_not_found",
    ScheduledNotFound = "scheduled_not_found",
    OutboxJobState = "outbox_job_state",
    DuplicateClientId = "duplicate_client_id",
    DuplicateCarrierSid = "duplicate_carrier_sid",
    Corrupt = "corrupt",
    Database = "database",
    Io = "io",
    // The app's shell only.
    Starting = "starting",
    // The shell: a command's work stopped unexpectedly (it panicked).
    StoreUnavailable = "store_unavailable",
    AttachmentMissing = "attachment_missing",
    ImageDataMalformed = "image_data_malformed",
    Window = "window",
    SandboxUnavailable = "sandbox_unavailable",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    /// `NumberTooShort` → `number_too_short`.
    fn snake(variant: &str) -> String {
        let mut out = String::new();
        for c in variant.chars() {
            if c.is_ascii_uppercase() && !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    #[test]
    fn every_code_is_its_variant_in_snake_case_and_serialises_as_such() {
        for &code in ErrorCode::ALL {
            assert_eq!(code.as_str(), snake(&format!("{code:?}")));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            let back: ErrorCode = serde_json::from_value(code.as_str().into()).unwrap();
            assert_eq!(back, code);
        }
    }
}
