//! Reading: the conversation list, one conversation, search and the outbox — with line
//! labels and contact names resolved for display (names are for display only; a thread is
//! always (line, number)).

use serde::{Deserialize, Serialize};
use switchboard_core::composer::ComposeError;
use switchboard_core::model::{Line, LineId, MessageId, ThreadId, ThreadKey, E164};
use switchboard_core::phone;
use switchboard_core::threads::display_name;
use switchboard_core::triage::View;
use switchboard_store::{
    group_by_thread, Attachment, MessageCursor, MessageRow, OutboxJob, ThreadCursor, ThreadSummary,
};

use crate::{Engine, EngineError, ErrorBody, OptedOut, Result};

/// One row of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ThreadView {
    pub id: ThreadId,
    pub line: LineBrief,
    pub counterpart: E164,
    /// The counterpart's number as people read it (`+1 415-555-0123`; core's
    /// `phone::format_international`), a short code or sender name as it is.
    pub counterpart_display: String,
    /// The contact's name, else the number formatted.
    pub display: String,
    pub last_message_at: i64,
    /// What the list is ordered and paged by (its cursor's `listed_at`): the last message's
    /// time, or the later time a snooze ended.
    pub listed_at: i64,
    pub preview: String,
    pub unread: i64,
    /// Inbox, snoozed or done.
    pub view: View,
    /// When a snoozed conversation comes back.
    pub snoozed_until: Option<i64>,
    /// Why nothing can be sent in this thread, shown in place of its reply box: the
    /// counterpart is a short code or a sender name (verification codes), which take no
    /// replies, or they opted out of the line (texted STOP). `None` when replies can go.
    pub cannot_reply: Option<ErrorBody>,
    /// Since when the counterpart has opted out of the thread's line, if they have (read for
    /// an open thread, [`Engine::thread`]; `None` in the list).
    pub opted_out: Option<OptedOut>,
}

/// What a row needs of its line: the label and colour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct LineBrief {
    pub id: LineId,
    pub label: String,
    pub color: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ThreadDetail {
    pub thread: ThreadView,
    /// Newest first.
    pub messages: Vec<MessageRow>,
    /// Messages waiting to be sent later in this conversation, soonest first.
    pub scheduled: Vec<crate::ScheduledView>,
}

/// The hits of one thread, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SearchGroup {
    pub thread: ThreadView,
    /// True when the thread's contact name matched (then `hits` may be empty).
    pub name_match: bool,
    pub hits: Vec<switchboard_store::SearchHit>,
}

/// How many contacts a name search looks at: a search box, not an export.
const NAME_MATCHES: usize = 20;

/// Most threads, messages or search hits one call may ask for.
pub const MAX_PAGE: usize = 500;
/// Longest search query.
pub const MAX_QUERY_CHARS: usize = 200;

fn page(limit: usize) -> Result<usize> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(EngineError::PageSize { max: MAX_PAGE });
    }
    Ok(limit)
}

impl Engine {
    /// The inbox: [`Engine::view_threads`] of [`View::Inbox`].
    pub fn threads(
        &self,
        line: Option<LineId>,
        limit: usize,
        before: Option<ThreadCursor>,
    ) -> Result<Vec<ThreadView>> {
        self.view_threads(View::Inbox, line, limit, before)
    }

    /// The conversation list of one view (inbox, snoozed, done), optionally of one line, most
    /// recent first; `before` continues after the previous page.
    pub fn view_threads(
        &self,
        which: View,
        line: Option<LineId>,
        limit: usize,
        before: Option<ThreadCursor>,
    ) -> Result<Vec<ThreadView>> {
        let limit = page(limit)?;
        let lines = self.store.list_lines()?;
        self.store
            .list_view(which, line, limit, before)?
            .into_iter()
            .map(|t| view(&lines, t))
            .collect()
    }

    pub fn thread(
        &self,
        id: ThreadId,
        limit: usize,
        before: Option<MessageCursor>,
    ) -> Result<ThreadDetail> {
        let limit = page(limit)?;
        let lines = self.store.list_lines()?;
        let mut thread = view(&lines, self.store.get_thread(id)?)?;
        if let Some(o) = self.store.opt_out(thread.line.id, &thread.counterpart)? {
            let out = OptedOut {
                number: thread.counterpart.clone(),
                display: thread.display.clone(),
                line: thread.line.label.clone(),
                since: o.since,
            };
            thread.cannot_reply.get_or_insert_with(|| {
                EngineError::OptedOut {
                    names: vec![out.display.clone()],
                    line: out.line.clone(),
                }
                .body()
            });
            thread.opted_out = Some(out);
        }
        let messages = self.store.thread_messages(id, limit, before)?;
        let key = ThreadKey {
            line: thread.line.id,
            counterpart: thread.counterpart.clone(),
        };
        let scheduled = self.scheduled_for(&key)?;
        Ok(ThreadDetail {
            thread,
            messages,
            scheduled,
        })
    }

    /// The messages `ids` as they are now (a status or a download changed them), in the order
    /// asked; one that no longer exists (deleted) is left out. At most a page at once.
    pub fn messages(&self, ids: &[MessageId]) -> Result<Vec<MessageRow>> {
        page(ids.len().max(1))?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            match self.store.get_message(*id) {
                Ok(m) => found.push(m),
                Err(switchboard_store::StoreError::MessageNotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(found)
    }

    /// Unread messages in every thread together (the tray's count).
    pub fn total_unread(&self) -> Result<i64> {
        Ok(self.store.total_unread()?)
    }

    pub fn mark_read(&self, id: ThreadId) -> Result<()> {
        Ok(self.store.mark_read(id)?)
    }

    /// Full-text search over contact names and message bodies: first the conversations of the
    /// contacts whose name matches (most recent first), then the messages that match, newest
    /// first, grouped by thread.
    pub fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchGroup>> {
        let limit = page(limit)?;
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(EngineError::QueryTooLong {
                max: MAX_QUERY_CHARS,
            });
        }
        let lines = self.store.list_lines()?;
        let mut named: Vec<ThreadView> = Vec::new();
        for contact in self.store.search_contacts(query, NAME_MATCHES)? {
            if !contact.name.to_lowercase().split_whitespace().any(|word| {
                query
                    .to_lowercase()
                    .split_whitespace()
                    .any(|q| word.starts_with(q))
            }) {
                continue; // matched by number digits, not by name
            }
            for number in &contact.numbers {
                for line in &lines {
                    let key = switchboard_core::model::ThreadKey {
                        line: line.id,
                        counterpart: number.clone(),
                    };
                    if let Some(t) = self.store.thread_by_key(&key)? {
                        named.push(view(&lines, t)?);
                    }
                }
            }
        }
        named.sort_by_key(|t| std::cmp::Reverse(t.last_message_at));
        let mut groups: Vec<SearchGroup> = Vec::new();
        for thread in named {
            groups.push(SearchGroup {
                thread,
                name_match: true,
                hits: Vec::new(),
            });
        }
        for group in group_by_thread(self.store.search(query, limit)?) {
            match groups.iter_mut().find(|g| g.thread.id == group.thread_id) {
                Some(existing) => existing.hits = group.hits,
                None => groups.push(SearchGroup {
                    thread: view(&lines, self.store.get_thread(group.thread_id)?)?,
                    name_match: false,
                    hits: group.hits,
                }),
            }
        }
        Ok(groups)
    }

    /// Messages waiting to be sent ("Offline — 3 messages will be sent…").
    pub fn pending_count(&self) -> Result<i64> {
        Ok(self.store.pending_count()?)
    }

    /// A message's media item `index` (from 0) with its bytes, once downloaded.
    pub fn attachment(&self, message: MessageId, index: u8) -> Result<Option<Attachment>> {
        Ok(self.store.attachment(message, index)?)
    }

    pub fn outbox(&self) -> Result<Vec<OutboxJob>> {
        Ok(self.store.list_outbox()?)
    }
}

pub(crate) fn view(lines: &[Line], t: ThreadSummary) -> Result<ThreadView> {
    let line = lines
        .iter()
        .find(|l| l.id == t.line_id)
        .ok_or(EngineError::Store(
            switchboard_store::StoreError::LineNotFound(t.line_id),
        ))?;
    Ok(ThreadView {
        id: t.id,
        line: LineBrief {
            id: line.id,
            label: line.label.clone(),
            color: line.color.clone(),
        },
        display: display_name(t.contact_name.as_deref(), &t.counterpart),
        cannot_reply: (!t.counterpart.is_phone_number())
            .then(|| EngineError::Compose(ComposeError::SenderCannotReceive).body()),
        counterpart_display: phone::format_international(&t.counterpart),
        counterpart: t.counterpart,
        last_message_at: t.last_message_at,
        listed_at: t.listed_at,
        preview: t.preview,
        unread: t.unread,
        opted_out: None,
        view: t.view,
        snoozed_until: t.snoozed_until,
    })
}

#[cfg(test)]
mod tests {
    use crate::testutil::engine;
    use crate::ComposeRequest;

    #[test]
    fn messages_are_read_again_by_id_and_a_deleted_one_is_left_out() {
        let (_d, e) = engine();
        let sales = e.add_line("+14155550100", "Sales", None).unwrap();
        let send = |body: &str| {
            let request = ComposeRequest {
                recipients: vec!["+14155550142".into()],
                body: body.into(),
                images: Vec::new(),
                line: Some(sales.id),
            };
            e.send(&request, None).unwrap().sent[0].message_id
        };
        let (a, b) = (send("First"), send("Second"));
        let gone = switchboard_core::model::MessageId(b.0 + 100);
        let read = e.messages(&[b, gone, a]).unwrap();
        let bodies: Vec<_> = read.iter().map(|m| (m.id, m.body.as_str())).collect();
        assert_eq!(bodies, [(b, "Second"), (a, "First")]);
        let too_many = vec![a; super::MAX_PAGE + 1];
        assert!(matches!(
            e.messages(&too_many),
            Err(crate::EngineError::PageSize { .. })
        ));
    }

    #[test]
    fn search_finds_contact_names_and_message_text() {
        let (_d, e) = engine();
        let sales = e.add_line("+14155550100", "Sales", None).unwrap();
        e.add_contact("Ada Lovelace", &["+14155550142".into()], None)
            .unwrap();
        e.add_contact("Grace Hopper", &["+14155550143".into()], None)
            .unwrap();
        let send = |to: &str, body: &str| {
            let request = ComposeRequest {
                recipients: vec![to.into()],
                body: body.into(),
                images: Vec::new(),
                line: Some(sales.id),
            };
            e.send(&request, None).unwrap().sent[0].thread_id
        };
        let ada = send("Ada Lovelace", "The engine is ready");
        let grace = send("Grace Hopper", "Ada said the engine is ready");

        let found = e.search("ada", 50).unwrap();
        let ids: Vec<_> = found.iter().map(|g| (g.thread.id, g.name_match)).collect();
        assert_eq!(
            ids,
            [(ada, true), (grace, false)],
            "the name first, then the text"
        );

        let found = e.search("engine", 50).unwrap();
        let ids: Vec<_> = found.iter().map(|g| g.thread.id).collect();
        assert_eq!(ids, [grace, ada], "newest hit first");
        assert!(
            e.search("\u{0}\"*", 50).is_ok(),
            "any text is a safe search"
        );
    }

    #[test]
    fn threads_and_contacts_show_numbers_as_people_read_them() {
        let (_d, e) = engine();
        let sales = e.add_line("+14155550100", "Sales", None).unwrap();
        let ada = e
            .add_contact(
                "Ada Lovelace",
                &["+14155550142".into(), "+447400123456".into()],
                None,
            )
            .unwrap();
        assert_eq!(ada.numbers_display, ["+1 415-555-0142", "+44 7400 123456"]);
        for to in ["+14155550123", "+14155550142"] {
            let request = ComposeRequest {
                recipients: vec![to.into()],
                body: "Hello".into(),
                images: Vec::new(),
                line: Some(sales.id),
            };
            e.send(&request, None).unwrap();
        }
        let mut shown: Vec<_> = e
            .threads(None, 50, None)
            .unwrap()
            .into_iter()
            .map(|t| {
                (
                    t.counterpart.as_str().to_owned(),
                    t.display,
                    t.counterpart_display,
                )
            })
            .collect();
        shown.sort();
        assert_eq!(
            shown,
            [
                (
                    "+14155550123".into(),
                    "+1 415-555-0123".into(),
                    "+1 415-555-0123".into()
                ),
                (
                    "+14155550142".into(),
                    "Ada Lovelace".into(),
                    "+1 415-555-0142".into()
                ),
            ] as [(String, String, String); 2]
        );
    }

    /// The input limits every client meets, the app and the CLI alike.
    #[test]
    fn pages_queries_and_imports_have_limits() {
        #[track_caller]
        fn check<T: std::fmt::Debug>(result: crate::Result<T>, code: &str, sentence: &str) {
            let e = result.unwrap_err();
            assert_eq!(
                (e.code().as_str(), e.to_string().as_str()),
                (code, sentence)
            );
        }
        let (_d, e) = engine();
        let page = "A page holds 1 to 500 items.";
        check(e.threads(None, 0, None), "invalid_input", page);
        check(e.threads(None, 501, None), "invalid_input", page);
        check(e.search("ada", 0), "invalid_input", page);
        check(
            e.search(&"a".repeat(201), 50),
            "invalid_input",
            "Search for at most 200 characters.",
        );
        let huge = "x".repeat(crate::MAX_IMPORT_BYTES + 1);
        check(
            e.import_contacts(&huge, crate::ImportFormat::Csv),
            "file_too_large",
            "This file is too large for an address book (more than 5 MB).",
        );
        assert!(e.threads(None, 500, None).unwrap().is_empty());
        assert!(e.search(&"a".repeat(200), 50).is_ok());
        assert!(e.find_contacts("  ", 10).unwrap().is_empty());
    }
}
