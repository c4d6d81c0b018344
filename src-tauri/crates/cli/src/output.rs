//! How answers are printed: one JSON document with `--json`, else short plain text.

use std::io::Write;

use serde::Serialize;
use serde_json::json;
use switchboard_engine::core::model::{Direction, Line, MediaKind};
use switchboard_engine::core::phone::format_international;
use switchboard_engine::core::sms::Encoding;
use switchboard_engine::core::templates::SavedTemplate;
use switchboard_engine::core::triage::View;
use switchboard_engine::store::{
    Attachment, AttachmentInfo, AttachmentState, MessageRow, OptOutSource, OutboxJob,
};
use switchboard_engine::{
    ContactView, ImportSummary, LineDecision, OptOutEntry, Preview, ScheduleReceipt, ScheduledView,
    SearchGroup, SendReceipt, Settings, ThreadDetail, ThreadView,
};

use crate::Failure;

pub struct Out {
    pub json: bool,
}

type Done = Result<(), Failure>;

/// Writes one line to standard output. A reader that went away (`switchboard-cli --json
/// contacts | head -1`) ends the program quietly and successfully, as `yes | head -1` does: it
/// asked for no more. Any other write error is reported on standard error.
pub fn say(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr().lock(),
                "error: cannot write the answer: {e}"
            );
        }
    }
}

impl Out {
    fn emit<T: Serialize + ?Sized>(&self, value: &T, human: impl FnOnce() -> String) -> Done {
        if self.json {
            say(&serde_json::to_string_pretty(value).unwrap_or_default());
        } else {
            let text = human();
            if !text.is_empty() {
                say(text.trim_end());
            }
        }
        Ok(())
    }

    pub fn error(&self, code: &str, message: &str, details: Option<serde_json::Value>) {
        if self.json {
            let mut doc = json!({ "code": code, "message": message });
            if let (Some(obj), Some(serde_json::Value::Object(extra))) =
                (doc.as_object_mut(), details)
            {
                obj.extend(extra);
            }
            say(&serde_json::to_string_pretty(&doc).unwrap_or_default());
        } else {
            let _ = writeln!(std::io::stderr().lock(), "error: {message}");
        }
    }

    pub fn done(&self, value: serde_json::Value, text: &str) -> Done {
        self.emit(&value, || text.to_owned())
    }

    pub fn lines(&self, lines: &[Line]) -> Done {
        self.emit(lines, || {
            if lines.is_empty() {
                return "No lines yet. Add one: switchboard-cli lines add \"+1 415 555 0100\" Sales".into();
            }
            lines.iter().map(line_text).collect::<Vec<_>>().join("\n")
        })
    }

    pub fn line(&self, line: &Line, verb: &str) -> Done {
        self.emit(line, || format!("{verb} {}", line_text(line)))
    }

    pub fn contacts(&self, contacts: &[ContactView]) -> Done {
        self.emit(contacts, || {
            if contacts.is_empty() {
                return "No contacts.".into();
            }
            contacts
                .iter()
                .map(contact_text)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    pub fn contact(&self, contact: &ContactView, verb: &str) -> Done {
        self.emit(contact, || format!("{verb} {}", contact_text(contact)))
    }

    pub fn templates(&self, templates: &[SavedTemplate]) -> Done {
        self.emit(templates, || {
            if templates.is_empty() {
                return "No templates. Add one: switchboard-cli templates add \"Order ready\" \
                        \"Hi {first_name}, your order is ready at {line}\""
                    .into();
            }
            templates
                .iter()
                .map(template_text)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    pub fn template(&self, template: &SavedTemplate, verb: &str) -> Done {
        self.emit(template, || format!("{verb} {}", template_text(template)))
    }

    pub fn import(&self, summary: &ImportSummary) -> Done {
        self.emit(summary, || {
            let mut s = format!(
                "Imported {} contact(s); {} entr{} skipped.\n",
                summary.added,
                summary.skipped.len(),
                if summary.skipped.len() == 1 {
                    "y"
                } else {
                    "ies"
                }
            );
            for k in &summary.skipped {
                s += &format!("  entry {} ({}): {}\n", k.entry, k.label, k.reason);
            }
            s
        })
    }

    pub fn preview(&self, p: &Preview) -> Done {
        self.emit(p, || {
            let to: Vec<&str> = p.recipients.iter().map(|r| r.display.as_str()).collect();
            let encoding = match p.sms.encoding {
                Encoding::Gsm7 => "GSM-7",
                Encoding::Ucs2 => "UCS-2",
            };
            let line = match &p.decision {
                LineDecision::Use { line, .. } => format!("Send from {}", line.label),
                LineDecision::Pick { .. } => "Choose a line to send from".into(),
            };
            let filled = p
                .filled
                .as_ref()
                .map(|f| format!("\nThe first recipient gets: {f}"))
                .unwrap_or_default();
            let mut s = format!(
                "To: {}\n{} characters, {encoding}, {} segment(s)\n{line}{filled}",
                to.join(", "),
                p.sms.chars,
                p.sms.segments
            );
            for o in &p.opted_out {
                s += &format!(
                    "\nNot to {}: they opted out of {} (replied STOP).",
                    clean(&o.display),
                    clean(&o.line)
                );
            }
            s
        })
    }

    pub fn receipt(&self, r: &SendReceipt) -> Done {
        self.emit(r, || {
            let mut s = format!("Queued from {} to {} recipient(s):\n", r.line.label, r.sent.len());
            for sent in &r.sent {
                s += &format!(
                    "  {} — conversation {}\n",
                    sent.recipient.display, sent.thread_id
                );
            }
            for left in &r.left_out {
                s += &format!(
                    "  Not to {}: they opted out of {} (replied STOP).\n",
                    clean(&left.display),
                    clean(&left.line)
                );
            }
            if let Some(contact) = r.offer_default {
                s += &format!(
                    "Tip: make {} this contact's default with `switchboard-cli contacts default {contact} {}`\n",
                    r.line.label, r.line.id
                );
            }
            s
        })
    }

    pub fn threads(&self, threads: &[ThreadView]) -> Done {
        self.emit(threads, || {
            if threads.is_empty() {
                return "No conversations.".into();
            }
            threads
                .iter()
                .map(thread_text)
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// What `send --at` did: who waits for when.
    pub fn scheduled_receipt(&self, r: &ScheduleReceipt) -> Done {
        self.emit(r, || {
            let mut s = format!(
                "Scheduled from {} for {} to {} recipient(s):\n",
                clean(&r.line.label),
                time(r.send_at),
                r.scheduled.len()
            );
            for w in &r.scheduled {
                s += &format!(
                    "  {} — scheduled message {}\n",
                    clean(&w.recipient.display),
                    w.id
                );
            }
            for left in &r.left_out {
                s += &format!(
                    "  Not to {}: they opted out of {} (replied STOP).\n",
                    clean(&left.display),
                    clean(&left.line)
                );
            }
            s
        })
    }

    pub fn scheduled(&self, items: &[ScheduledView]) -> Done {
        self.emit(items, || {
            if items.is_empty() {
                return "Nothing is scheduled.".into();
            }
            items
                .iter()
                .map(|w| {
                    format!(
                        "#{} {} {} to {} → {}{}  {}",
                        w.id,
                        if w.held {
                            "LATE (waits for `outbox send-late`)"
                        } else {
                            "at"
                        },
                        time(w.send_at),
                        clean(&w.display),
                        clean(&w.line),
                        if w.images > 0 {
                            format!(" ({} image(s))", w.images)
                        } else {
                            String::new()
                        },
                        clean(&w.body)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    pub fn opt_outs(&self, entries: &[OptOutEntry]) -> Done {
        self.emit(entries, || {
            if entries.is_empty() {
                return "Nobody has opted out.".into();
            }
            entries
                .iter()
                .map(|o| {
                    let how = match o.source {
                        OptOutSource::Keyword => "replied STOP",
                        OptOutSource::Carrier => "the carrier refused a message as opted out",
                    };
                    let of = match &o.messaging_service {
                        Some(sid) => {
                            format!("Messaging Service {} ({})", clean(sid), o.lines.join(", "))
                        }
                        None => o.lines.join(", "),
                    };
                    format!(
                        "{} ({}) — opted out of {} since {} ({how})",
                        clean(&o.display),
                        format_international(&o.number),
                        clean(&of),
                        time(o.since)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    /// A view's list; an empty one says which view was empty.
    pub fn threads_of(&self, view: View, threads: &[ThreadView]) -> Done {
        if threads.is_empty() && !self.json {
            let none = match view {
                View::Inbox => "No conversations in the inbox.",
                View::Snoozed => "No snoozed conversations.",
                View::Done => "No conversations marked done.",
            };
            return self.emit(&threads, || none.to_owned());
        }
        self.threads(threads)
    }

    /// A conversation after a triage command: "Done: [3] Ada Lovelace → Sales …".
    pub fn triaged(&self, t: &ThreadView, verb: &str) -> Done {
        self.emit(t, || format!("{verb}: {}", thread_text(t)))
    }

    pub fn thread(&self, d: &ThreadDetail) -> Done {
        self.emit(d, || {
            let mut s = thread_text(&d.thread) + "\n";
            if let Some(why) = &d.thread.cannot_reply {
                s += &format!("  {}\n", why.message);
            }
            for m in d.messages.iter().rev() {
                s += &message_text(m);
            }
            s
        })
    }

    /// What `attachment` wrote: the item's kind, type, size and dimensions, and the file.
    pub fn attachment_saved(&self, a: &Attachment, file: &std::path::Path) -> Done {
        let doc = json!({
            "message_id": a.message_id,
            "index": a.index,
            "kind": a.kind,
            "mime": a.mime,
            "bytes": a.bytes.len(),
            "width": a.width,
            "height": a.height,
            "file": file,
        });
        self.emit(&doc, || {
            let info = AttachmentInfo {
                index: a.index,
                state: AttachmentState::Ready,
                kind: Some(a.kind),
                mime: Some(a.mime.clone()),
                bytes: Some(a.bytes.len() as u64),
                width: a.width,
                height: a.height,
            };
            format!(
                "Wrote {} ({}) to {}.",
                attachment_text(&info),
                clean(&a.mime),
                file.display()
            )
        })
    }

    pub fn search(&self, groups: &[SearchGroup]) -> Done {
        self.emit(groups, || {
            if groups.is_empty() {
                return "Nothing found.".into();
            }
            let mut s = String::new();
            for g in groups {
                s += &(thread_text(&g.thread) + "\n");
                for h in &g.hits {
                    s += &format!("    {}  {}\n", time(h.created_at), clean(&h.snippet));
                }
            }
            s
        })
    }

    pub fn outbox(&self, jobs: &[OutboxJob]) -> Done {
        self.emit(jobs, || {
            if jobs.is_empty() {
                return "The outbox is empty.".into();
            }
            jobs.iter()
                .map(|j| {
                    format!(
                        "#{} {:<8} to {} (conversation {}), attempts {}{}",
                        j.id.0,
                        j.state.as_str(),
                        format_international(&j.counterpart),
                        j.thread_id,
                        j.attempts,
                        j.last_error
                            .as_deref()
                            .map(|e| format!(" — {e}"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    pub fn settings(&self, s: &Settings) -> Done {
        self.emit(s, || {
            let value = serde_json::to_value(s).unwrap_or_default();
            value
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| {
                            format!(
                                "{k} = {}",
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default()
        })
    }
}

/// Text from outside (message bodies, names) with its control characters made visible, so that
/// an SMS cannot drive the terminal (escape sequences can retitle windows or write the
/// clipboard). JSON output needs no such care: it escapes them itself.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

fn line_text(l: &Line) -> String {
    format!(
        "[{}] {:<12} {}  {}",
        l.id,
        l.label,
        format_international(&l.number),
        l.color
    )
}

fn template_text(t: &SavedTemplate) -> String {
    format!("{}: {}", t.name, t.text)
}

fn contact_text(c: &ContactView) -> String {
    let numbers: Vec<String> = c.contact.numbers.iter().map(format_international).collect();
    format!(
        "[{}] {} — {}{}{}",
        c.contact.id,
        clean(&c.contact.name),
        numbers.join(", "),
        c.default_line_label
            .as_deref()
            .map(|l| format!(" — default line {l}"))
            .unwrap_or_default(),
        if c.contact.demo { " (demo)" } else { "" }
    )
}

fn thread_text(t: &ThreadView) -> String {
    let unread = if t.unread > 0 {
        format!(" ({} unread)", t.unread)
    } else {
        String::new()
    };
    let triage = match (t.view, t.snoozed_until) {
        (View::Done, _) => " (done)".to_owned(),
        (View::Snoozed, Some(until)) => format!(" (snoozed until {} UTC)", time(until)),
        _ => String::new(),
    };
    format!(
        "[{}] {} → {}{}{}  {}  {}",
        t.id,
        clean(&t.display),
        clean(&t.line.label),
        unread,
        triage,
        time(t.last_message_at),
        clean(&t.preview)
    )
}

/// One message of a thread: its id (for `attachment`), when, who, its status (and whether it
/// was sent from elsewhere), its attachments in words, its text and its error.
fn message_text(m: &MessageRow) -> String {
    let who = match m.direction {
        Direction::Outbound => "you",
        Direction::Inbound => "them",
    };
    let elsewhere = if m.sent_elsewhere {
        ", sent elsewhere"
    } else {
        ""
    };
    let attachments: String = m
        .attachments
        .iter()
        .map(|a| format!(" [{}]", attachment_text(a)))
        .collect();
    let error = m
        .error
        .as_ref()
        .map(|e| format!(" — {}", e.message))
        .unwrap_or_default();
    format!(
        "  #{} {} {who:>4} ({}{elsewhere}){attachments}: {}{error}\n",
        m.id,
        time(m.created_at),
        m.status.as_str(),
        clean(&m.body)
    )
}

/// A media item in words: "Photo 640×480, 120 KB", "PDF, 2.1 MB", "Photo, downloading".
fn attachment_text(a: &AttachmentInfo) -> String {
    let label = a.kind.map_or("Attachment", MediaKind::label);
    let size = match (a.width, a.height) {
        (Some(w), Some(h)) => format!(" {w}×{h}"),
        _ => String::new(),
    };
    match a.state {
        AttachmentState::Ready => match a.bytes {
            Some(bytes) => format!("{label}{size}, {}", size_text(bytes)),
            None => format!("{label}{size}"),
        },
        AttachmentState::Downloading => format!("{label}, downloading"),
        AttachmentState::Unavailable => format!("{label}, could not be downloaded"),
    }
}

/// A size as people read it: "512 bytes", "120 KB", "2.1 MB" (powers of 1000, as file
/// managers show them).
pub fn size_text(bytes: u64) -> String {
    match bytes {
        0..=999 => format!("{bytes} bytes"),
        1_000..=999_499 => format!("{} KB", (bytes + 500) / 1_000),
        _ => format!("{:.1} MB", bytes as f64 / 1_000_000.0),
    }
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM` UTC (Howard Hinnant's civil calendar).
fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(
            super::clean("hi\u{1b}]52;c;ZXZpbA==\u{7}!\nbye"),
            "hi\u{fffd}]52;c;ZXZpbA==\u{fffd}! bye"
        );
    }

    #[test]
    fn attachments_are_told_in_words() {
        use super::{AttachmentInfo, AttachmentState, MediaKind};
        let item = |state, kind, bytes, size: Option<(u32, u32)>| AttachmentInfo {
            index: 0,
            state,
            kind,
            mime: None,
            bytes,
            width: size.map(|s| s.0),
            height: size.map(|s| s.1),
        };
        let check = |a: AttachmentInfo, expected: &str| {
            assert_eq!(super::attachment_text(&a), expected, "{a:?}");
        };
        use AttachmentState::{Downloading, Ready, Unavailable};
        check(
            item(
                Ready,
                Some(MediaKind::Image),
                Some(120_000),
                Some((640, 480)),
            ),
            "Photo 640×480, 120 KB",
        );
        check(
            item(Ready, Some(MediaKind::Pdf), Some(2_100_000), None),
            "PDF, 2.1 MB",
        );
        check(
            item(Ready, Some(MediaKind::Contact), Some(312), None),
            "Contact card, 312 bytes",
        );
        check(
            item(Downloading, None, None, None),
            "Attachment, downloading",
        );
        check(
            item(Downloading, Some(MediaKind::Image), None, None),
            "Photo, downloading",
        );
        check(
            item(Unavailable, None, None, None),
            "Attachment, could not be downloaded",
        );
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        let check = |bytes: u64, expected: &str| assert_eq!(super::size_text(bytes), expected);
        check(0, "0 bytes");
        check(999, "999 bytes");
        check(1_000, "1 KB");
        check(120_400, "120 KB");
        check(999_499, "999 KB");
        check(999_500, "1.0 MB");
        check(2_100_000, "2.1 MB");
        check(16_000_000, "16.0 MB");
    }

    #[test]
    fn times_are_civil_utc() {
        let check = |ms: i64, expected: &str| assert_eq!(super::time(ms), expected);
        check(0, "1970-01-01 00:00");
        check(951_782_400_000, "2000-02-29 00:00");
        check(1_795_552_380_000, "2026-11-24 20:33");
    }
}
