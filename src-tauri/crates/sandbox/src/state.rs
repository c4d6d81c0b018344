//! What the sandbox carrier remembers (lines, messages, media, counters) and how it survives a
//! restart: one JSON file, rewritten atomically (temporary file, then rename) after each change.
//! Messages are kept in listing order (date, then creation order), so a page of a busy day is
//! read from the end of the list rather than sorted out of all of it.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use switchboard_carrier::CarrierStatus;
use switchboard_core::model::E164;

use crate::SandboxError;

const STATE_FILE: &str = "sandbox-state.json";

/// A person the demo account knows; replies come from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoContact {
    pub name: String,
    pub number: E164,
}

/// One of the sandbox account's numbers (Twilio's IncomingPhoneNumber).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxLine {
    /// `PN…`
    pub sid: String,
    pub number: E164,
    pub friendly_name: String,
    pub sms: bool,
    pub mms: bool,
    pub created_at: i64,
}

/// An image attached to a message (Twilio's Media resource).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMedia {
    /// `ME…`
    pub sid: String,
    /// The `MediaUrl` the message was sent with.
    pub url: String,
    pub content_type: String,
}

/// A message as the sandbox carrier holds it, sent through the API or received from a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxMessage {
    /// `SM…` (`MM…` with media).
    pub sid: String,
    pub from: E164,
    pub to: E164,
    pub body: String,
    pub inbound: bool,
    pub status: CarrierStatus,
    pub created_at: i64,
    pub updated_at: i64,
    /// When it left (outbound) or arrived (inbound); `None` while queued, as at Twilio, whose
    /// `DateSent` filters then skip it.
    pub sent_at: Option<i64>,
    pub error_code: Option<u32>,
    pub error_message: Option<String>,
    pub media: Vec<MessageMedia>,
    /// Creation order, which breaks ties between equal dates in listings and page tokens.
    pub seq: u64,
    /// When this run of the sandbox took the message in, which the list and media lags count
    /// from; `None` for messages of an earlier run or of a flood (history, long listed).
    #[serde(skip)]
    pub arrived: Option<Instant>,
}

impl SandboxMessage {
    /// Where it stands in listings: by date, then by creation order.
    pub fn order(&self) -> (i64, u64) {
        (self.created_at, self.seq)
    }
}

/// An uploaded image; its bytes live in `media/<id>` beside the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMedia {
    pub id: String,
    pub content_type: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub lines: Vec<SandboxLine>,
    /// Oldest first, in [`SandboxMessage::order`]: add them with [`State::insert_message`].
    pub messages: Vec<SandboxMessage>,
    pub media: Vec<StoredMedia>,
    /// Messages accepted through `POST Messages.json`, ever.
    pub received_count: u64,
    pub next_seq: u64,
}

impl State {
    fn demo(now_ms: i64) -> State {
        let line = |sid: &str, number: &str, name: &str| SandboxLine {
            sid: sid.into(),
            number: E164::from_normalized(number).expect("demo numbers are E.164"),
            friendly_name: name.into(),
            sms: true,
            mms: true,
            created_at: now_ms,
        };
        State {
            lines: vec![
                line(
                    "PN00000000000000000000000000000100",
                    "+14155550100",
                    "Sales",
                ),
                line(
                    "PN00000000000000000000000000000101",
                    "+14155550101",
                    "Support",
                ),
            ],
            ..State::default()
        }
    }

    pub fn line(&self, number: &E164) -> Option<&SandboxLine> {
        self.lines.iter().find(|l| &l.number == number)
    }

    pub fn message(&self, sid: &str) -> Option<&SandboxMessage> {
        self.messages.iter().find(|m| m.sid == sid)
    }

    pub fn message_mut(&mut self, sid: &str) -> Option<&mut SandboxMessage> {
        self.messages.iter_mut().find(|m| m.sid == sid)
    }

    /// Adds a message where its date puts it (at the end, but for one dated in the past).
    pub fn insert_message(&mut self, message: SandboxMessage) {
        let key = message.order();
        let at = self.messages.partition_point(|m| m.order() <= key);
        self.messages.insert(at, message);
    }

    /// Adds many messages at once, in any order.
    pub fn insert_messages(&mut self, messages: impl IntoIterator<Item = SandboxMessage>) {
        self.messages.extend(messages);
        self.messages.sort_by_key(SandboxMessage::order);
    }

    pub fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

/// The people who write back to the demo lines.
pub fn demo_contacts() -> Vec<DemoContact> {
    [
        ("Ada Lovelace", "+14155550123"),
        ("Grace Hopper", "+14155550124"),
        ("Katherine Johnson", "+14155550125"),
        ("Alan Turing", "+14155550126"),
    ]
    .into_iter()
    .map(|(name, number)| DemoContact {
        name: name.into(),
        number: E164::from_normalized(number).expect("demo numbers are E.164"),
    })
    .collect()
}

/// The state behind a lock, and the file it is saved to.
pub struct Store {
    dir: PathBuf,
    state: Mutex<State>,
}

impl Store {
    /// Reads the state file in `dir`, or starts the demo account there if there is none.
    pub fn open(dir: &Path, now_ms: i64) -> Result<Store, SandboxError> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| SandboxError::Io {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(dir.join("media")).map_err(io("create", dir))?;
        let path = dir.join(STATE_FILE);
        let state = match fs::read(&path) {
            Ok(bytes) => {
                let mut state: State =
                    serde_json::from_slice(&bytes).map_err(|source| SandboxError::Corrupt {
                        path: path.clone(),
                        source,
                    })?;
                // Files of older sandboxes kept messages in creation order.
                state.messages.sort_by_key(SandboxMessage::order);
                state
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::demo(now_ms),
            Err(e) => return Err(io("read", &path)(e)),
        };
        let store = Store {
            dir: dir.to_owned(),
            state: Mutex::new(state),
        };
        store.update(|_| ())?;
        Ok(store)
    }

    /// A copy of (part of) the state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Changes the state and saves it before anyone can see the change.
    pub fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, SandboxError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let result = f(&mut state);
        self.save(&state)?;
        Ok(result)
    }

    fn save(&self, state: &State) -> Result<(), SandboxError> {
        let path = self.dir.join(STATE_FILE);
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(state).map_err(|source| SandboxError::Corrupt {
            path: path.clone(),
            source,
        })?;
        // Rename is atomic: a crash leaves either the old file or the new one, never half.
        fs::write(&tmp, bytes)
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|source| SandboxError::Io {
                action: "write",
                path,
                source,
            })
    }

    pub fn media_path(&self, id: &str) -> PathBuf {
        self.dir.join("media").join(id)
    }
}
