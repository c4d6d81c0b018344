//! The decisions of one inbound sync round, apart from its requests (which `client` makes), so
//! that each can be tested on its own.
//!
//! Twilio lists an account's messages newest first and can filter them only by whole days, so
//! a round lists from the top and stops at the first page that reaches what the previous round
//! had seen: its cost follows what is new, not the day's volume. Twilio also lists a message a
//! little after creating it, so one created before another may be listed after it: the round
//! looks back an overlap (the listing lag and a margin) before the newest date seen, on the
//! carrier's clock, and remembers what it reported there. Outbound messages that leave the
//! overlap while their status may still change are asked about one by one, less and less
//! often. An MMS listed before its media is held back until they are. A first sync imports
//! today and yesterday, by the carrier's date, as history. A round has a budget of pages; a
//! walk that needs more is resumed by the next round (the gap), after the news.

use std::collections::BTreeMap;
use std::time::Duration;

use super::cursor::{
    awaits_delivery, keep_newest, Gap, Held, Seen, TwilioCursor, Watched, HELD_MAX, RECENT_MAX,
    WATCH_MAX,
};
use super::wire::Listed;
use crate::dates::start_of_day;
use crate::CarrierStatus;

const DAY_MS: i64 = 86_400_000;
/// Added to the listing lag for the overlap: one-second dates, and a listing that lags a little
/// more than it should.
const OVERLAP_MARGIN: Duration = Duration::from_secs(30);
/// Pages and messages one round may list; the rest waits for the next round, so that a round
/// stays well within the engine's call timeout on a slow link.
const ROUND_PAGES: usize = 20;
const ROUND_MESSAGES: usize = 5_000;
/// Outbound messages asked about one by one in a round, the most overdue first.
const WATCH_FETCHES: usize = 10;
/// The shortest and the longest wait before asking about a watched message again: its age, so
/// that the waits double (5 s, 10 s, 20 s, …), capped.
const WATCH_FIRST: i64 = 5_000;
const WATCH_LONGEST: i64 = 15 * 60 * 1000;
/// A message still "sent" after this long may never be reported delivered (many destinations
/// send no receipts): it is no longer asked about.
const WATCH_FOR: i64 = 3 * DAY_MS;
/// How long an MMS is held back for its media (Twilio fills `num_media` in within seconds).
const MEDIA_WAIT: i64 = 60_000;
/// How far the carrier's newest date may be ahead of its `Date` header as measured here (its
/// dates have seconds, the estimate is good to a second or so).
const CLOCK_SLACK: i64 = 5_000;

/// A message the round reports, and whether its media URLs must be fetched first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Report {
    pub(super) listed: Listed,
    pub(super) fetch_media: bool,
}

/// After a page: the next one to list, or the walk is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Walk {
    Next(String),
    Done,
}

pub(super) struct SyncRound {
    cursor: TwilioCursor,
    overlap_ms: i64,
    /// A first sync: everything found is history.
    first: bool,
    /// Where the head walk stops (carrier's clock); a first sync learns it from its first answer.
    floor_ms: Option<i64>,
    /// The carrier's time of the latest answer.
    now_ms: i64,
    /// Reports in listing order (newest first), then those of the watched messages.
    reports: Vec<Report>,
    /// The newest and the oldest `date_created` the head walk listed.
    head_newest: Option<i64>,
    head_oldest: Option<i64>,
    pages: usize,
    messages: usize,
    /// The head walk ran out of budget here.
    cut: Option<String>,
    /// This round walked the gap, whose messages are reported as history or not.
    walked_gap: Option<bool>,
}

impl SyncRound {
    pub(super) fn start(cursor: TwilioCursor, listing_lag: Duration, now_ms: i64) -> SyncRound {
        let overlap_ms = i64::try_from((listing_lag + OVERLAP_MARGIN).as_millis()).unwrap_or(0);
        let first = cursor.newest_ms.is_none();
        SyncRound {
            cursor,
            overlap_ms,
            first,
            floor_ms: None,
            now_ms,
            reports: Vec::new(),
            head_newest: None,
            head_oldest: None,
            pages: 0,
            messages: 0,
            cut: None,
            walked_gap: None,
        }
    }

    /// A first sync, whose messages are history to record quietly.
    pub(super) fn is_first(&self) -> bool {
        self.first
    }

    fn spend(&mut self, page_len: usize) -> bool {
        self.pages += 1;
        self.messages += page_len;
        self.pages < ROUND_PAGES && self.messages < ROUND_MESSAGES
    }

    /// One page of the listing from the top, answered at `now_ms` on the carrier's clock.
    pub(super) fn head_page(
        &mut self,
        page: Vec<Listed>,
        next: Option<String>,
        now_ms: i64,
    ) -> Walk {
        self.now_ms = now_ms;
        let floor = match self.floor_ms {
            Some(floor) => floor,
            None => {
                let floor = match self.cursor.newest_ms {
                    Some(newest) => self.floor_below(newest),
                    None => start_of_day(now_ms) - DAY_MS,
                };
                *self.floor_ms.insert(floor)
            }
        };
        let mut reached = false;
        let page_len = page.len();
        for listed in page {
            let at = listed.message.created_at;
            // Older than the floor: the previous rounds saw it (the listing lag is shorter
            // than the overlap), or it is older than the history a first sync imports.
            if at < floor {
                reached = true;
                continue;
            }
            self.head_newest = self.head_newest.max(Some(at));
            self.head_oldest = Some(self.head_oldest.map_or(at, |o| o.min(at)));
            self.take_from_head(listed);
        }
        let budget_left = self.spend(page_len);
        match next {
            Some(next) if !reached && budget_left => Walk::Next(next),
            Some(next) if !reached => {
                self.cut = Some(next);
                Walk::Done
            }
            _ => Walk::Done,
        }
    }

    /// Where a walk stops after `newest`: the overlap before it, or the oldest held MMS. The
    /// carrier's dates come from its own clock, so none is later than its `Date` header says;
    /// should its clock ever step back (a sandbox's skew switched off), the newest date seen
    /// counts as now, so that later messages are not left below the floor.
    fn floor_below(&self, newest: i64) -> i64 {
        let held = self.cursor.held.values().map(|h| h.created_ms).min();
        (self.capped(newest) - self.overlap_ms).min(held.unwrap_or(i64::MAX))
    }

    fn capped(&self, newest: i64) -> i64 {
        newest.min(self.now_ms + CLOCK_SLACK)
    }

    fn take_from_head(&mut self, listed: Listed) {
        let m = &listed.message;
        let (sid, status, at) = (m.sid.clone(), m.status, m.created_at);
        if let Some(seen) = self.cursor.recent.get(&sid) {
            if seen.0 != status {
                self.cursor.recent.insert(sid, Seen(status, at));
                self.reports.push(Report {
                    listed,
                    fetch_media: false,
                });
            }
            return;
        }
        // Listed again because the floor went down for a held MMS: the listing tells now.
        if let Some(watched) = self.cursor.watch.remove(&sid) {
            self.cursor.recent.insert(sid, Seen(status, at));
            if watched.status != status {
                self.reports.push(Report {
                    listed,
                    fetch_media: false,
                });
            }
            return;
        }
        if !self.first && self.hold(&listed) {
            return;
        }
        self.cursor.held.remove(&sid);
        self.cursor.recent.insert(sid, Seen(status, at));
        let fetch_media = !self.first && m.inbound && listed.num_media > 0;
        self.reports.push(Report {
            listed,
            fetch_media,
        });
    }

    /// Whether a new inbound message waits for its media (an `MM` sid whose `num_media` still
    /// reads 0, or one Twilio is still receiving): true while it waits, false once it is due.
    fn hold(&mut self, listed: &Listed) -> bool {
        let m = &listed.message;
        let incomplete = m.inbound
            && ((listed.is_mms() && listed.num_media == 0) || m.status == CarrierStatus::Receiving);
        if !incomplete {
            return false;
        }
        let now = self.now_ms;
        let room = self.cursor.held.len() < HELD_MAX;
        match self.cursor.held.get(&m.sid) {
            Some(held) => now - held.since_ms < MEDIA_WAIT,
            None if room => {
                self.cursor.held.insert(
                    m.sid.clone(),
                    Held {
                        created_ms: m.created_at,
                        since_ms: now,
                    },
                );
                true
            }
            None => false,
        }
    }

    /// Where the gap's walk resumes this round: only when the listing's top had no news (news
    /// first; the next round resumes the gap) and the head walk was not itself cut.
    pub(super) fn gap_to_walk(&self) -> Option<String> {
        let gap = self.cursor.gap.as_ref()?;
        (self.reports.is_empty() && self.cut.is_none() && self.pages < ROUND_PAGES)
            .then(|| gap.next.clone())
    }

    /// One page of the gap's walk.
    pub(super) fn gap_page(
        &mut self,
        page: Vec<Listed>,
        next: Option<String>,
        now_ms: i64,
    ) -> Walk {
        self.now_ms = now_ms;
        let Some(gap) = self.cursor.gap.clone() else {
            return Walk::Done;
        };
        self.walked_gap = Some(gap.history);
        let mut reached = false;
        let page_len = page.len();
        for listed in page {
            let m = &listed.message;
            if m.created_at < gap.until_ms {
                reached = true;
                continue;
            }
            let seen = self.cursor.recent.get(&m.sid).or(gap.seen.get(&m.sid));
            if seen.is_some_and(|s| s.0 == m.status) {
                continue;
            }
            if !m.inbound && awaits_delivery(m.status) {
                self.watch(m.sid.clone(), m.status, m.created_at);
            }
            let fetch_media = !gap.history && m.inbound && listed.num_media > 0;
            self.reports.push(Report {
                listed,
                fetch_media,
            });
        }
        let budget_left = self.spend(page_len);
        match next {
            Some(next) if !reached => {
                self.cursor.gap = Some(Gap {
                    next: next.clone(),
                    ..gap
                });
                if budget_left {
                    Walk::Next(next)
                } else {
                    Walk::Done
                }
            }
            _ => {
                self.cursor.gap = None;
                Walk::Done
            }
        }
    }

    fn watch(&mut self, sid: String, status: CarrierStatus, created_ms: i64) {
        let due_ms = self.now_ms + (self.now_ms - created_ms).clamp(WATCH_FIRST, WATCH_LONGEST);
        self.cursor.watch.insert(
            sid,
            Watched {
                status,
                created_ms,
                due_ms,
            },
        );
    }

    /// The watched messages to ask about now, the most overdue first.
    pub(super) fn due_watches(&self) -> Vec<String> {
        let mut due: Vec<(&String, i64)> = self
            .cursor
            .watch
            .iter()
            .filter(|(_, w)| w.due_ms <= self.now_ms)
            .map(|(sid, w)| (sid, w.due_ms))
            .collect();
        due.sort_by_key(|(_, at)| *at);
        due.into_iter()
            .take(WATCH_FETCHES)
            .map(|(sid, _)| sid.clone())
            .collect()
    }

    /// What the carrier answered about a watched message: `None` when it no longer has it.
    pub(super) fn watched(&mut self, sid: &str, answer: Option<Listed>) {
        let Some(watched) = self.cursor.watch.remove(sid) else {
            return;
        };
        let Some(listed) = answer else {
            return;
        };
        let status = listed.message.status;
        if awaits_delivery(status) {
            self.watch(sid.to_owned(), status, watched.created_ms);
        }
        if status != watched.status {
            self.reports.push(Report {
                listed,
                fetch_media: false,
            });
        }
    }

    /// The round's reports oldest first (the carrier's order within a second), the cursor to
    /// continue from, and whether the reports are history.
    pub(super) fn finish(mut self) -> (Vec<Report>, TwilioCursor, bool) {
        let floor = self.floor_ms.unwrap_or(start_of_day(self.now_ms) - DAY_MS);
        let backfill = self.walked_gap.unwrap_or(self.first);
        let newest = self
            .cursor
            .newest_ms
            .max(self.head_newest)
            .map_or(floor, |newest| self.capped(newest));
        self.cursor.newest_ms = Some(newest);
        if let Some(next) = self.cut.take() {
            // The head walk could not reach its floor: the rest is walked by later rounds, down
            // to the older gap's end if one was still open (then news and history mix, and are
            // recorded quietly rather than as a storm of notifications).
            let below_cut = self.head_oldest.unwrap_or(i64::MAX);
            let mut seen: BTreeMap<String, Seen> = self
                .cursor
                .recent
                .iter()
                .filter(|(_, s)| s.1 <= below_cut)
                .map(|(sid, s)| (sid.clone(), *s))
                .collect();
            let (until_ms, history) = match self.cursor.gap.take() {
                Some(old) => {
                    seen.extend(old.seen);
                    (old.until_ms.min(floor), old.history || self.first)
                }
                None => (floor, self.first),
            };
            keep_newest(&mut seen, RECENT_MAX, |s| s.1);
            self.cursor.gap = Some(Gap {
                next,
                until_ms,
                history,
                seen,
            });
        }
        self.settle_overlap(newest);
        let now = self.now_ms;
        self.cursor
            .watch
            .retain(|_, w| awaits_delivery(w.status) && now - w.created_ms <= WATCH_FOR);
        keep_newest(&mut self.cursor.watch, WATCH_MAX, |w| w.created_ms);
        // A held MMS no longer listed (deleted at the carrier) is let go.
        self.cursor
            .held
            .retain(|_, h| now - h.since_ms < 2 * MEDIA_WAIT);

        let mut reports = self.reports;
        reports.reverse();
        reports.sort_by_key(|r| r.listed.message.created_at);
        (reports, self.cursor, backfill)
    }

    /// Keeps in `recent` what the next round's walk will list again (at most `RECENT_MAX`);
    /// outbound messages leaving it whose status may still change are watched instead.
    fn settle_overlap(&mut self, newest: i64) {
        let next_floor = self.floor_below(newest);
        let (kept, left): (BTreeMap<_, _>, BTreeMap<_, _>) =
            std::mem::take(&mut self.cursor.recent)
                .into_iter()
                .partition(|(_, seen)| seen.1 >= next_floor);
        self.cursor.recent = kept;
        let mut left: Vec<(String, Seen)> = left.into_iter().collect();
        left.extend(keep_newest(&mut self.cursor.recent, RECENT_MAX, |s| s.1));
        for (sid, Seen(status, created_ms)) in left {
            // Inbound statuses never await delivery, so only our messages are watched.
            if awaits_delivery(status) {
                self.watch(sid, status, created_ms);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use switchboard_core::model::E164;

    use super::*;
    use crate::dates::parse_day;
    use crate::CarrierMessage;

    const LAG: Duration = Duration::from_secs(30);
    /// 10:00 on a day, the carrier's clock.
    fn ten() -> i64 {
        parse_day("2026-03-02").unwrap() + 10 * 3_600_000
    }

    fn message(sid: &str, at: i64, status: CarrierStatus, inbound: bool) -> Listed {
        let (us, them) = (
            E164::from_normalized("+14155550100").unwrap(),
            E164::from_normalized("+14155550123").unwrap(),
        );
        let (from, to) = if inbound { (them, us) } else { (us, them) };
        Listed {
            message: CarrierMessage {
                sid: sid.into(),
                from,
                to,
                body: sid.to_lowercase(),
                inbound,
                status,
                created_at: at,
                error_code: None,
                error_message: None,
                media_urls: vec![],
                num_media: 0,
                messaging_service: None,
            },
            num_media: 0,
        }
    }

    fn inbound(sid: &str, at: i64) -> Listed {
        message(sid, at, CarrierStatus::Received, true)
    }

    fn outbound(sid: &str, at: i64, status: CarrierStatus) -> Listed {
        message(sid, at, status, false)
    }

    /// One round over `pages` (newest first, as listed; each page but the last links to the
    /// next) answered at `now`, gap included: what it reported, in order, and the cursor.
    fn round(cursor: &TwilioCursor, pages: &[Vec<Listed>], now: i64) -> Outcome {
        let mut round = SyncRound::start(cursor.clone(), LAG, now);
        let mut listed = 0;
        let mut walk = |page: usize| {
            let next = (page + 1 < pages.len()).then(|| format!("page{}", page + 1));
            listed += 1;
            (pages[page].clone(), next)
        };
        let mut page = 0;
        loop {
            let (items, next) = walk(page);
            match round.head_page(items, next, now) {
                Walk::Next(uri) => page = uri[4..].parse().unwrap(),
                Walk::Done => break,
            }
        }
        if let Some(uri) = round.gap_to_walk() {
            let mut page: usize = uri[4..].parse().unwrap();
            loop {
                let (items, next) = walk(page);
                match round.gap_page(items, next, now) {
                    Walk::Next(uri) => page = uri[4..].parse().unwrap(),
                    Walk::Done => break,
                }
            }
        }
        let due = round.due_watches();
        let (reports, cursor, backfill) = round.finish();
        Outcome {
            sids: reports
                .iter()
                .map(|r| r.listed.message.sid.clone())
                .collect(),
            media: reports
                .iter()
                .filter(|r| r.fetch_media)
                .map(|r| r.listed.message.sid.clone())
                .collect(),
            cursor,
            backfill,
            pages: listed,
            due,
        }
    }

    #[derive(Debug)]
    struct Outcome {
        sids: Vec<String>,
        media: Vec<String>,
        cursor: TwilioCursor,
        backfill: bool,
        pages: usize,
        due: Vec<String>,
    }

    fn fresh() -> TwilioCursor {
        TwilioCursor::default()
    }

    #[test]
    fn a_first_sync_imports_today_and_yesterday_as_history() {
        let now = ten();
        let yesterday = start_of_day(now) - DAY_MS;
        let listing = vec![
            inbound("SM4", now - 1_000),
            inbound("SM3", start_of_day(now) + 5),
            inbound("SM2", yesterday + 1),
            inbound("SM1", yesterday - 1),
        ];
        let first = round(&fresh(), std::slice::from_ref(&listing), now);
        assert_eq!(first.sids, ["SM2", "SM3", "SM4"]);
        assert!(first.backfill);
        assert_eq!(first.cursor.newest_ms, Some(now - 1_000));
        assert_eq!(
            first.cursor.recent.keys().collect::<Vec<_>>(),
            ["SM4"],
            "only the overlap is remembered"
        );

        let next = round(&first.cursor, &[listing], now + 5_000);
        assert!(next.sids.is_empty() && !next.backfill, "{next:?}");
        assert_eq!(next.cursor, first.cursor, "an idle round changes nothing");
    }

    #[test]
    fn an_empty_account_still_ends_its_first_sync() {
        let first = round(&fresh(), &[vec![]], ten());
        assert!(first.sids.is_empty() && first.backfill);
        assert_eq!(first.cursor.newest_ms, Some(start_of_day(ten()) - DAY_MS));
        let next = round(&first.cursor, &[vec![inbound("SM1", ten() + 1)]], ten() + 2);
        assert_eq!(next.sids, ["SM1"]);
        assert!(!next.backfill);
    }

    #[test]
    fn an_idle_round_lists_one_page_and_stops_at_what_it_has_seen() {
        let now = ten();
        let old: Vec<Listed> = (0..40)
            .map(|i| inbound(&format!("SM{i:03}"), now - 3_600_000 + i * 60_000))
            .rev()
            .collect();
        let pages: Vec<Vec<Listed>> = old.chunks(10).map(<[Listed]>::to_vec).collect();
        let first = round(&fresh(), &pages, now);
        assert_eq!(first.sids.len(), 40);
        assert_eq!(first.pages, 4);

        let idle = round(&first.cursor, &pages, now + 60_000);
        assert_eq!((idle.sids.len(), idle.pages), (0, 1), "{idle:?}");
        assert_eq!(idle.cursor, first.cursor);

        // Ten new messages: reported, oldest first, from one page.
        let mut news: Vec<Listed> = (0..10)
            .map(|i| inbound(&format!("SN{i}"), now + 61_000 + i * 1000))
            .rev()
            .collect();
        news.extend(old.iter().take(5).cloned());
        let busy = round(&first.cursor, &[news, old[5..].to_vec()], now + 72_000);
        let expected: Vec<String> = (0..10).map(|i| format!("SN{i}")).collect();
        assert_eq!(busy.sids, expected);
        assert_eq!(busy.pages, 1);
        assert!(busy.cursor.recent.len() <= 11, "{:?}", busy.cursor.recent);
    }

    #[test]
    fn a_message_listed_late_inside_the_overlap_is_not_lost() {
        let now = ten();
        let first = round(&fresh(), &[vec![inbound("SM2", now - 2_000)]], now);
        assert_eq!(first.sids, ["SM2"]);
        // SM1 was created before SM2 but Twilio lists it only now, 25 s later.
        let listing = vec![inbound("SM2", now - 2_000), inbound("SM1", now - 20_000)];
        let later = round(&first.cursor, std::slice::from_ref(&listing), now + 25_000);
        assert_eq!(later.sids, ["SM1"]);
        let again = round(&later.cursor, &[listing], now + 30_000);
        assert!(again.sids.is_empty());
    }

    #[test]
    fn messages_of_one_second_are_reported_in_the_carriers_order() {
        let now = ten();
        let second = now - 5_000;
        // Newest first, as listed: C came last within the second.
        let listing = vec![
            inbound("SMD", now - 1_000),
            inbound("SMC", second),
            inbound("SMB", second),
            inbound("SMA", second),
        ];
        let first = round(&fresh(), &[listing], now);
        assert_eq!(first.sids, ["SMA", "SMB", "SMC", "SMD"]);
    }

    #[test]
    fn an_mms_listed_before_its_media_is_held_until_they_are() {
        let now = ten();
        let start = round(&fresh(), &[vec![inbound("SM1", now - 10_000)]], now);
        let mut mms = inbound("MM2", now + 1_000);
        let listing = |mms: &Listed| vec![mms.clone(), inbound("SM1", now - 10_000)];

        let held = round(&start.cursor, &[listing(&mms)], now + 2_000);
        assert!(held.sids.is_empty(), "{held:?}");
        assert!(held.cursor.held.contains_key("MM2"));
        let still = round(&held.cursor, &[listing(&mms)], now + 5_000);
        assert!(still.sids.is_empty());
        assert_eq!(still.cursor, held.cursor, "waiting changes nothing");

        mms.num_media = 1;
        let ready = round(&held.cursor, &[listing(&mms)], now + 6_000);
        assert_eq!(
            (ready.sids.clone(), ready.media),
            (vec!["MM2".to_owned()], vec!["MM2".to_owned()])
        );
        assert!(ready.cursor.held.is_empty());

        // Media that never come: reported without them, once the wait is over.
        mms.num_media = 0;
        let late = round(&held.cursor, &[listing(&mms)], now + 2_000 + MEDIA_WAIT);
        assert_eq!(late.sids, ["MM2"]);
        assert!(late.media.is_empty());
    }

    #[test]
    fn a_held_mms_keeps_the_walk_listing_down_to_it() {
        let now = ten();
        let start = round(&fresh(), &[vec![]], now);
        let mut mms = inbound("MM1", now + 1_000);
        let held = round(&start.cursor, &[vec![mms.clone()]], now + 2_000);
        assert!(held.sids.is_empty());
        // Two minutes of messages later, the MMS is far below the overlap: still listed.
        let newer: Vec<Listed> = (0..3)
            .map(|i| inbound(&format!("SM{i}"), now + 50_000 + i * 20_000))
            .rev()
            .collect();
        mms.num_media = 2;
        let mut listing = newer.clone();
        listing.push(mms);
        let ready = round(&held.cursor, &[listing], now + 100_000);
        assert_eq!(ready.sids, ["MM1", "SM0", "SM1", "SM2"]);
        assert_eq!(ready.media, ["MM1"]);
    }

    #[test]
    fn statuses_are_reported_once_each_then_watched_less_and_less_often() {
        let now = ten();
        let sent_at = now - 1_000;
        let first = round(
            &fresh(),
            &[vec![outbound("SM1", sent_at, CarrierStatus::Queued)]],
            now,
        );
        let same = round(
            &first.cursor,
            &[vec![outbound("SM1", sent_at, CarrierStatus::Queued)]],
            now + 1_000,
        );
        assert!(same.sids.is_empty());
        let sent = round(
            &first.cursor,
            &[vec![outbound("SM1", sent_at, CarrierStatus::Sent)]],
            now + 2_000,
        );
        assert_eq!(sent.sids, ["SM1"]);

        // A newer message two minutes on pushes SM1 out of the overlap: it is watched.
        let later = now + 120_000;
        let listing = vec![
            inbound("SM9", later),
            outbound("SM1", sent_at, CarrierStatus::Sent),
        ];
        let out = round(&sent.cursor, std::slice::from_ref(&listing), later);
        assert_eq!(out.sids, ["SM9"]);
        let watched = out.cursor.watch["SM1"];
        assert_eq!(watched.status, CarrierStatus::Sent);
        assert_eq!(watched.due_ms, later + 121_000, "asked again after its age");
        assert!(out.due.is_empty());

        let mut r = SyncRound::start(out.cursor.clone(), LAG, watched.due_ms);
        r.head_page(listing.clone(), None, watched.due_ms);
        assert_eq!(r.due_watches(), ["SM1"]);
        r.watched("SM1", Some(outbound("SM1", sent_at, CarrierStatus::Sent)));
        let (reports, unchanged, _) = r.finish();
        assert!(reports.is_empty());
        let age = watched.due_ms - sent_at;
        assert_eq!(
            unchanged.watch["SM1"].due_ms,
            watched.due_ms + age,
            "the wait doubles"
        );

        let mut r = SyncRound::start(unchanged.clone(), LAG, later + 10 * DAY_MS);
        r.head_page(listing, None, later + 10 * DAY_MS);
        r.watched(
            "SM1",
            Some(outbound("SM1", sent_at, CarrierStatus::Delivered)),
        );
        let (reports, done, _) = r.finish();
        assert_eq!(reports.len(), 1);
        assert!(done.watch.is_empty(), "a final status ends the watch");
    }

    #[test]
    fn a_watch_ends_after_a_few_days_and_keeps_the_newest() {
        let now = ten();
        let mut cursor = round(&fresh(), &[vec![]], now).cursor;
        for i in 0..(WATCH_MAX as i64 + 5) {
            cursor.watch.insert(
                format!("SM{i:03}"),
                Watched {
                    status: CarrierStatus::Sent,
                    created_ms: now - 3_600_000 + i,
                    due_ms: now + DAY_MS,
                },
            );
        }
        let bounded = round(&cursor, &[vec![]], now);
        assert_eq!(bounded.cursor.watch.len(), WATCH_MAX);
        assert!(!bounded.cursor.watch.contains_key("SM000"));
        let gone = round(&cursor, &[vec![]], now + WATCH_FOR);
        assert!(gone.cursor.watch.is_empty());
    }

    #[test]
    fn a_walk_past_the_rounds_budget_resumes_after_the_news() {
        let now = ten();
        let start = round(&fresh(), &[vec![inbound("SM0", now - 3_600_000)]], now);
        // The app was away: 25 pages of 10 new messages, more than a round lists.
        let backlog: Vec<Listed> = (0..250)
            .map(|i| inbound(&format!("SB{i:03}"), now - 3_000_000 + i * 1000))
            .rev()
            .chain([inbound("SM0", now - 3_600_000)])
            .collect();
        let pages: Vec<Vec<Listed>> = backlog.chunks(10).map(<[Listed]>::to_vec).collect();
        let cut = round(&start.cursor, &pages, now);
        assert_eq!(cut.pages, ROUND_PAGES);
        assert_eq!(cut.sids.len(), 10 * ROUND_PAGES);
        assert_eq!(cut.sids.last().map(String::as_str), Some("SB249"));
        let gap = cut.cursor.gap.clone().expect("the rest is left for later");
        assert_eq!(gap.next, format!("page{ROUND_PAGES}"));
        assert!(!cut.backfill && !gap.history);

        // News first: the gap waits for a round whose top has none.
        let mut with_news = pages.clone();
        with_news[0].insert(0, inbound("SN1", now + 1_000));
        let news = round(&cut.cursor, &with_news, now + 2_000);
        assert_eq!(news.sids, ["SN1"]);
        assert_eq!(news.cursor.gap, cut.cursor.gap);

        let rest = round(&news.cursor, &with_news, now + 3_000);
        let expected: Vec<String> = (0..50).map(|i| format!("SB{i:03}")).collect();
        assert_eq!(rest.sids, expected);
        assert_eq!(rest.cursor.gap, None);
        let idle = round(&rest.cursor, &with_news, now + 4_000);
        assert!(idle.sids.is_empty() && idle.pages == 1);
    }

    #[test]
    fn a_carrier_clock_stepping_back_leaves_no_message_below_the_floor() {
        let now = ten();
        // Messages dated 90 s ahead (a skewed clock), then the clock is right again.
        let ahead = round(
            &fresh(),
            &[vec![inbound("SM1", now + 90_000)]],
            now + 90_000,
        );
        assert_eq!(ahead.sids, ["SM1"]);
        let listing = vec![inbound("SM1", now + 90_000), inbound("SM2", now + 1_000)];
        let after = round(&ahead.cursor, std::slice::from_ref(&listing), now + 2_000);
        assert_eq!(after.sids, ["SM2"]);
        assert_eq!(after.cursor.newest_ms, Some(now + 2_000 + CLOCK_SLACK));
        let again = round(&after.cursor, &[listing], now + 3_000);
        assert!(again.sids.is_empty());
    }
}
