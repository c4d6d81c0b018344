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
    // What most messages lack is left out of the state file, which a busy day makes large.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<MessageMedia>,
    /// The carrier's own answer to a keyword (STOP, START, HELP), which Twilio lists as
    /// `outbound-reply`: no client sent it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub auto_reply: bool,
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

/// A number blocked from one line: it texted STOP to it (`optouts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocked {
    pub line: E164,
    pub number: E164,
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
    /// Who texted STOP to which line (`optouts`); older state files have none.
    #[serde(default)]
    pub opt_outs: Vec<Blocked>,
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
        // Compact, not pretty: a day of 10,000 messages is 3 MB rather than 4.3, and saves in
        // about 6 ms rather than 9 (benches/busy_day.rs).
        let bytes = serde_json::to_vec(state).map_err(|source| SandboxError::Corrupt {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn message(sid: &str, created_at: i64, seq: u64) -> SandboxMessage {
        SandboxMessage {
            sid: sid.into(),
            from: E164::from_normalized("+14155550123").unwrap(),
            to: E164::from_normalized("+14155550100").unwrap(),
            body: "hi".into(),
            inbound: true,
            status: CarrierStatus::Received,
            created_at,
            updated_at: created_at,
            sent_at: Some(created_at),
            error_code: None,
            error_message: None,
            media: Vec::new(),
            auto_reply: false,
            seq,
            arrived: None,
        }
    }

    fn sids(state: &State) -> Vec<&str> {
        state.messages.iter().map(|m| m.sid.as_str()).collect()
    }

    #[test]
    fn messages_are_kept_by_date_then_creation_order() {
        let mut state = State::default();
        state.insert_message(message("b", 2000, 2));
        state.insert_message(message("c", 2000, 3));
        // Dated in the past, taken in last.
        state.insert_message(message("a", 1000, 4));
        state.insert_messages([message("d", 3000, 6), message("a2", 1000, 5)]);
        assert_eq!(sids(&state), ["a", "a2", "b", "c", "d"]);
    }

    #[test]
    fn an_older_sandboxs_state_file_is_read_and_put_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let old = State {
            messages: vec![message("late", 5_500, 2), message("early", 1_250, 1)],
            ..State::default()
        };
        let mut text = serde_json::to_value(&old).unwrap();
        // Older files wrote every field, nulls and empty lists included.
        for m in text["messages"].as_array_mut().unwrap() {
            m["error_code"] = serde_json::Value::Null;
            m["error_message"] = serde_json::Value::Null;
            m["media"] = serde_json::json!([]);
        }
        fs::write(
            dir.path().join(STATE_FILE),
            serde_json::to_vec_pretty(&text).unwrap(),
        )
        .unwrap();
        let store = Store::open(dir.path(), 0).unwrap();
        store.read(|s| assert_eq!(sids(s), ["early", "late"]));
        let saved = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        assert!(!saved.contains("error_code"), "{saved}");
        assert!(!saved.contains('\n'), "compact");
    }
}
