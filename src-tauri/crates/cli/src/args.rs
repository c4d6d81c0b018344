//! The command line's grammar (clap). `--help` on any command documents it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use switchboard_engine::ImportFormat;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  internal error (the database could not be read or written)
  2  the command line itself is wrong (unknown command or flag)
  3  input refused: an invalid number, too many recipients, a file that is not an image, …
  4  the sending line must be chosen: pass --line (nothing was sent)
  5  not found: no such line, contact, conversation, message or attachment
  6  the store cannot be opened: wrong or missing key, keychain unavailable, damaged file,
     or a database from a newer Switchboard
  7  the carrier or the media host can't be reached now, or an attachment is not downloaded
     yet: try again later

Keys: by default the database key is kept in the OS keychain. Set SWITCHBOARD_PASSPHRASE to
use a passphrase instead, or pass --key-file (or SWITCHBOARD_KEY_FILE) for a key file that only
its owner can read. With --json every command prints one JSON document; errors are
{\"code\", \"message\"}.";

/// Switchboard from the command line: lines, contacts, messages, threads and search.
#[derive(Debug, Parser)]
#[command(name = "switchboard-cli", version, after_long_help = EXIT_CODES, after_help = EXIT_CODES)]
pub struct Cli {
    /// The data directory (default: the platform's data directory, e.g. ~/.local/share/switchboard).
    #[arg(long, global = true, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A key file (64 hex characters, mode 600) instead of the OS keychain; created on first use.
    #[arg(long, global = true, env = "SWITCHBOARD_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    /// Print one JSON document instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The account's business numbers ("lines"). Without a subcommand: list them.
    Lines {
        #[command(subcommand)]
        cmd: Option<LinesCmd>,
    },
    /// The address book. Without a subcommand: list it.
    Contacts {
        #[command(subcommand)]
        cmd: Option<ContactsCmd>,
    },
    /// Saved texts with variables: {first_name}, {name} and {line}, filled per recipient by
    /// `send --template NAME` ({{ and }} write a brace itself). Without a subcommand: list them.
    Templates {
        #[command(subcommand)]
        cmd: Option<TemplatesCmd>,
    },
    /// Send a new message: one message per recipient, each in its own conversation.
    ///
    /// The line is chosen as in the app: the only line; else --line; else the recipients'
    /// shared default line. Otherwise nothing is sent and the lines to choose from are listed
    /// (exit code 4). With --template, each recipient gets the template filled with their own
    /// values; when one lacks a value (a number with no contact has no first name), nothing
    /// is sent and they are named (exit code 3).
    Send {
        /// A recipient: a phone number or a contact's name. Repeat for up to 20.
        #[arg(long = "to", required = true, value_name = "NAME|NUMBER")]
        to: Vec<String>,
        /// The message text (up to 1,600 characters).
        #[arg(long, conflicts_with_all = ["body_file", "template"])]
        body: Option<String>,
        /// Read the message text from a file, or from standard input with "-".
        #[arg(long, value_name = "FILE", conflicts_with = "template")]
        body_file: Option<PathBuf>,
        /// Send a saved template (see `templates`), filled for each recipient.
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
        /// Attach an image (JPEG, PNG or GIF; checked by content). Repeat for up to 10, sent in
        /// the order given as one MMS; over 5 MB together, they are scaled to fit.
        #[arg(long = "image", value_name = "FILE")]
        images: Vec<PathBuf>,
        /// The line to send from: its label, number or id.
        #[arg(long)]
        line: Option<String>,
        /// Check everything and show which line would be used, without sending.
        #[arg(long)]
        dry_run: bool,
        /// Send later, at WHEN: RFC 3339 (2026-12-01T15:00:00Z) or a local time in this
        /// computer's time zone ("2026-12-01 15:00"), within a year. The messages wait in the
        /// outbox (`outbox scheduled`) and go then, once, whenever `run` (or the app) is running;
        /// one due over 15 minutes earlier, while nothing ran, waits for `outbox send-late`.
        #[arg(long, value_name = "WHEN", conflicts_with = "dry_run")]
        at: Option<String>,
    },
    /// Reply in a conversation, always from the conversation's own line.
    Reply {
        /// The conversation's id (see `threads`).
        thread: i64,
        #[arg(long, conflicts_with = "template")]
        body: Option<String>,
        /// Reply with a saved template, filled for the conversation's contact and line.
        #[arg(long, value_name = "NAME")]
        template: Option<String>,
        /// Attach an image, as `send --image` does; repeat for up to 10.
        #[arg(long = "image", value_name = "FILE")]
        images: Vec<PathBuf>,
    },
    /// The conversation list (the inbox, or --done / --snoozed), most recent activity first.
    Threads {
        /// Only this line's conversations.
        #[arg(long)]
        line: Option<String>,
        /// The conversations marked done instead of the inbox.
        #[arg(long, conflicts_with = "snoozed")]
        done: bool,
        /// The snoozed conversations instead of the inbox.
        #[arg(long)]
        snoozed: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Who has opted out (texted STOP), and of which lines: nothing is sent to them from those
    /// lines until they text START.
    Optouts {
        /// Only those who can't be texted from this line.
        #[arg(long)]
        line: Option<String>,
    },
    /// Mark a conversation done: out of the inbox (and read) until a new message arrives.
    Done {
        /// The conversation: its id (see `threads`), a phone number or a contact's name.
        thread: String,
    },
    /// Bring a conversation marked done or snoozed back to the inbox.
    Undone {
        /// The conversation: its id (see `threads`), a phone number or a contact's name.
        thread: String,
    },
    /// Mark a conversation unread.
    Unread {
        /// The conversation: its id (see `threads`), a phone number or a contact's name.
        thread: String,
    },
    /// Snooze a conversation: out of the inbox until UNTIL (or a new message), then back on top,
    /// unread. A running app or `run` brings it back.
    Snooze {
        /// The conversation: its id (see `threads`), a phone number or a contact's name.
        thread: String,
        /// When it comes back: RFC 3339 (2026-12-01T15:00:00Z) or a local time in this
        /// computer's time zone ("2026-12-01 15:00"); within a year.
        until: String,
    },
    /// One conversation's messages, newest first.
    Thread {
        id: i64,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Save one attachment of a message (a photo, a PDF, a contact card…) to a file, its bytes
    /// exactly as received or sent. FILE is never replaced unless --force is given.
    Attachment {
        /// The message's id (`#ID` in `thread`, `id` in `thread --json`).
        message: i64,
        /// Which of the message's attachments, from 0 (`index` in `thread --json`).
        #[arg(long, default_value_t = 0)]
        index: u32,
        /// The file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace FILE if it already exists.
        #[arg(long)]
        force: bool,
    },
    /// Search message text, newest hits first, grouped by conversation.
    Search {
        query: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Messages waiting to be sent, being sent, or failed; retry or delete a failed one.
    Outbox {
        #[command(subcommand)]
        cmd: Option<OutboxCmd>,
    },
    /// Media received with messages (photos, PDFs, contact cards…).
    Media {
        #[command(subcommand)]
        cmd: MediaCmd,
    },
    /// Send what is queued and receive replies and delivery reports, until Ctrl-C.
    ///
    /// Talks to the carrier of this data directory (today the sandbox started with
    /// `sandbox serve`). Only one process sends from a data directory at a time. With --json,
    /// prints one JSON line per event.
    Run {
        /// Send everything due now, fetch replies once, print a summary and exit.
        #[arg(long)]
        once: bool,
    },
    /// The sandbox carrier: a Twilio-compatible server on this machine with demo lines and
    /// contacts. `serve` runs it; the other commands steer the running one.
    ///
    /// It can behave like real Twilio rather than like an ideal carrier, one quirk at a time:
    /// `list-lag`, `media-lag`, `trial` and `clock-skew` (see `sandbox quirks`), and faults on
    /// demand (`fail`). Quirks and faults live in the sandbox's memory only: a restarted
    /// sandbox starts with none. Its messages, lines and counters are kept across restarts.
    Sandbox {
        #[command(subcommand)]
        cmd: SandboxCmd,
    },
    /// The carrier account: the embedded sandbox (the default) or your Twilio account, and the
    /// media host Twilio needs for images. Without a subcommand: show it.
    Account {
        #[command(subcommand)]
        cmd: Option<AccountCmd>,
    },
    /// Show or change settings.
    Settings {
        #[command(subcommand)]
        cmd: Option<SettingsCmd>,
    },
}

#[derive(Debug, Subcommand)]
pub enum LinesCmd {
    List,
    /// Add a line: `lines add "+1 415 555 0100" Sales`.
    Add {
        number: String,
        label: String,
        /// #rrggbb; by default the next colour of the palette.
        #[arg(long)]
        color: Option<String>,
    },
    /// Rename a line; a line of the connected account is renamed at the carrier too (Twilio's
    /// FriendlyName).
    Rename {
        line: String,
        label: String,
    },
    Color {
        line: String,
        color: String,
    },
    /// Remove a line that has no conversations.
    Remove {
        line: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TemplatesCmd {
    List,
    /// Save a template: `templates add "Order ready" "Hi {first_name}, your order is ready at
    /// {line}"`. A name (1 to 60 characters) is unique whatever its case: to change a template,
    /// remove it and add it again.
    Add {
        name: String,
        text: String,
    },
    /// Remove a template by name.
    Remove {
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContactsCmd {
    List {
        /// Only contacts whose name or number matches.
        #[arg(long)]
        search: Option<String>,
    },
    /// Add a contact: `contacts add "Ada Lovelace" --number "+44 7400 123456" --default-line Sales`.
    Add {
        name: String,
        #[arg(long = "number", required = true)]
        numbers: Vec<String>,
        #[arg(long)]
        default_line: Option<String>,
    },
    /// Change a contact (found by id, name or number). --number replaces all numbers.
    Edit {
        contact: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long = "number")]
        numbers: Vec<String>,
        #[arg(long, conflicts_with = "no_default_line")]
        default_line: Option<String>,
        #[arg(long)]
        no_default_line: bool,
    },
    /// Set the line a contact's messages go from by default ("none" to clear).
    Default {
        contact: String,
        line: String,
    },
    Remove {
        contact: String,
    },
    /// Import a vCard (.vcf) or CSV file; prints what was skipped and why.
    Import {
        file: PathBuf,
        /// By default detected from the content.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Vcard,
    Csv,
}

impl From<FormatArg> for ImportFormat {
    fn from(f: FormatArg) -> ImportFormat {
        match f {
            FormatArg::Vcard => ImportFormat::Vcard,
            FormatArg::Csv => ImportFormat::Csv,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum SettingsCmd {
    Show,
    /// Settings: default_country (e.g. GB), notification_privacy (full|sender|nothing),
    /// do_not_disturb, always_on_top, start_minimized (on|off), global_shortcut, carrier.
    Set {
        name: String,
        value: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    Show,
    /// Connect your Twilio account: `echo "$TOKEN" | switchboard-cli account connect-twilio
    /// --sid AC…`. The Account SID and Auth Token (Twilio Console → Account Info) are checked
    /// with Twilio, then kept in the OS keychain; the account's numbers become your lines. The
    /// token is read from standard input, never from the command line (where other users of
    /// this computer could see it).
    ConnectTwilio {
        #[arg(long, value_name = "ACCOUNT_SID")]
        sid: String,
    },
    /// Forget the Twilio account (its credentials leave the keychain) and use the sandbox
    /// again. Its lines and conversations stay.
    Disconnect,
    /// Images on Twilio: an S3-compatible bucket (AWS S3, Cloudflare R2, MinIO…) Twilio fetches
    /// them from, through links that expire after a day. The secret access key is read from
    /// standard input; everything is checked with the bucket, then kept in the OS keychain.
    MediaHost {
        /// e.g. https://s3.eu-west-1.amazonaws.com
        #[arg(long)]
        endpoint: String,
        #[arg(long)]
        bucket: String,
        #[arg(long, default_value = "us-east-1")]
        region: String,
        #[arg(long)]
        access_key_id: String,
        /// Address the bucket as https://BUCKET.ENDPOINT/ rather than https://ENDPOINT/BUCKET/.
        #[arg(long)]
        virtual_host: bool,
    },
    /// Stop sending images through the media host (its keys leave the keychain).
    RemoveMediaHost,
}

#[derive(Debug, Subcommand)]
pub enum MediaCmd {
    /// Ask again for a received message's media that could not be downloaded (deleted at
    /// the carrier, refused): `switchboard-cli run` fetches them.
    Retry {
        /// The message's id (see `thread`).
        message: i64,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    List,
    /// Queue a failed message again (optionally with a corrected text); one the carrier
    /// reported failed after accepting it is sent again as a new message.
    Retry {
        /// The message's id (see `outbox` or `thread`).
        message: i64,
        #[arg(long)]
        body: Option<String>,
    },
    /// Delete a failed message.
    Delete {
        message: i64,
    },
    /// Messages waiting to be sent later (`send --at`), soonest first.
    Scheduled,
    /// Cancel a message waiting to be sent later: nothing is sent.
    Cancel {
        /// Its id (see `outbox scheduled`).
        id: i64,
    },
    /// Send now the scheduled messages found late (due over 15 minutes earlier, while
    /// nothing was running), or only ID.
    SendLate {
        /// One scheduled message's id (see `outbox scheduled`).
        id: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxCmd {
    /// Run the sandbox until Ctrl-C (its state is kept in DATA_DIR/sandbox).
    Serve {
        /// The Twilio API's port on 127.0.0.1 (0: any free port; the last one is reused).
        #[arg(long)]
        port: Option<u16>,
        /// The control API's port (0: any free port).
        #[arg(long, default_value_t = 0)]
        control_port: u16,
    },
    /// Take the carrier offline: connections are refused, as with no network.
    Offline,
    /// Bring the carrier back online.
    Online,
    /// Make the next API requests fail (the next one, or --count of them).
    ///
    /// timeout: the request is carried out but never answered, so the client cannot know
    /// whether a message went out. 500, 502, 504: answered with that status in Twilio's error
    /// document, nothing done; with --after-create the request is carried out first (a send
    /// creates its message, which then goes on to be delivered) and only the answer is the
    /// error, as Twilio's gateways sometimes answer. 429: "too many requests", nothing done,
    /// with a Retry-After.
    Fail {
        #[arg(value_enum)]
        kind: FailKind,
        /// How many requests fail, one after the other.
        #[arg(long, default_value_t = 1)]
        count: u32,
        /// For 429: the Retry-After the carrier sends, in seconds.
        #[arg(long, default_value_t = 5)]
        retry_after: u64,
        /// Only sends fail; listing lines and fetching replies still work.
        #[arg(long)]
        sends_only: bool,
        /// For 500, 502 and 504: do what was asked (create the message), then answer the
        /// error.
        #[arg(long)]
        after_create: bool,
    },
    /// Make sends to NUMBER fail permanently with a Twilio error code (e.g. 21610, opted out);
    /// a delivery error (30001…30010, e.g. 30003: the phone is off) is reported after the
    /// message was accepted, as its status; without a code, let it receive again.
    FailNumber { number: String, code: Option<u32> },
    /// Make NUMBER send TEXT to the line LINE (a number) now, as a reply.
    ///
    /// With --image, an MMS: each FILE is attached as it is (any file, up to 10 of them, 32 MB
    /// in all), labelled with the content type its content shows (a JPEG, PNG or GIF image, a
    /// PDF, a contact card, audio or video; else application/octet-stream), as a phone would.
    /// TEXT may be "" for a message that is only media.
    Reply {
        from: String,
        line: String,
        text: String,
        /// Attach FILE (repeatable, up to 10).
        #[arg(long = "image", value_name = "FILE")]
        images: Vec<PathBuf>,
    },
    /// What the carrier has received, how many requests its API has answered, whether it is
    /// online.
    ///
    /// `api_requests` counts every request to the Twilio API since the sandbox started,
    /// whatever its answer: the difference before and after a `run --once` is what one poll
    /// costs.
    Stats,
    /// Every message the carrier holds, in Twilio's JSON shape.
    ///
    /// All of them, whatever the quirks let its Twilio API show for now.
    Messages,
    /// Delay new messages in lists and lookups by SECONDS (0: off).
    ///
    /// Real Twilio lists a new message only after a while. From now on a message sent or
    /// received appears in list answers (GET Messages.json) and lookups (the message, its
    /// media) only SECONDS after its creation.
    ListLag { seconds: u64 },
    /// Report picture messages' media SECONDS late (0: off).
    ///
    /// Twilio counts an MMS's media late: for SECONDS after an MMS is created, its num_media
    /// is "0" and its media list is empty.
    MediaLag { seconds: u64 },
    /// Play a Twilio trial account (on) or a paid one (off).
    ///
    /// A trial account's outbound bodies are stored and answered with "Sent from your Twilio
    /// trial account - " before them, and the account says it is a trial.
    Trial {
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Run the sandbox's clock SECONDS ahead of this computer's; negative: behind (0: off).
    ///
    /// Every date the sandbox gives messages is shifted, and so is the Date header of every
    /// answer of its Twilio API, from which clients judge their own clock's error.
    ClockSkew {
        #[arg(allow_negative_numbers = true)]
        seconds: i64,
    },
    /// A busy day: create COUNT messages (1 to 100000) over the last 24 hours.
    ///
    /// Sent and received on every line, to and from many customers, one in ten a picture
    /// message (whose image can be fetched); those sent are already delivered. They are
    /// history: no list or media lag applies to them, and `received_count` does not count
    /// them.
    Flood {
        #[arg(value_parser = clap::value_parser!(u32).range(1..=i64::from(switchboard_sandbox::MAX_FLOOD)))]
        count: u32,
    },
    /// Show the quirks in force: list-lag, media-lag, trial, clock-skew.
    ///
    /// Quirks live in the sandbox's memory only: a restarted sandbox starts with none.
    Quirks,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FailKind {
    /// The request is carried out but never answered.
    Timeout,
    /// Internal Server Error.
    #[value(name = "500")]
    Status500,
    /// Bad Gateway.
    #[value(name = "502")]
    Status502,
    /// Gateway Timeout.
    #[value(name = "504")]
    Status504,
    /// Too Many Requests, with a Retry-After.
    #[value(name = "429")]
    Status429,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}
