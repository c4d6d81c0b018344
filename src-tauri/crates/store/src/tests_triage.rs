//! Triage in the store: done and snoozed threads leave the inbox and come back on a new message
//! (received or sent from here, not one recorded quietly) or at the snooze's end, on top; the
//! views page with a cursor through their indexes; the state survives a reopen; unread counts
//! per line.

use rusqlite::params;
use switchboard_core::triage::View;

use crate::tests::{check_plan, plan, store_with_history};
use crate::testutil::{key, new_store, num, test_key};
use crate::*;

const T0: i64 = 1_700_000_000_000;

fn line(store: &Store, number: &str, label: &str) -> LineId {
    store.add_line(&num(number), label, "#336699").unwrap().id
}

/// The ids of a view's list, newest first.
fn ids(store: &Store, view: View, line: Option<LineId>) -> Vec<ThreadId> {
    store
        .list_view(view, line, 50, None)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect()
}

/// Three threads on Sales with an inbound message each, the newest last: (store, sales, ids).
fn three_threads() -> (tempfile::TempDir, Store, LineId, [ThreadId; 3]) {
    let (dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let t = |i: i64, number: &str| {
        store
            .insert_inbound(
                &key(sales, number),
                "Hello",
                &format!("SM{i}"),
                T0 + i,
                None,
            )
            .unwrap()
            .thread_id
    };
    let ids = [
        t(1, "+447700900001"),
        t(2, "+447700900002"),
        t(3, "+447700900003"),
    ];
    (dir, store, sales, ids)
}

#[test]
fn done_leaves_the_inbox_and_a_received_message_brings_it_back() {
    let (_dir, store, sales, [a, b, c]) = three_threads();
    assert_eq!(ids(&store, View::Inbox, None), [c, b, a]);
    store.mark_done(b, T0 + 10).unwrap();
    assert_eq!(ids(&store, View::Inbox, None), [c, a]);
    assert_eq!(ids(&store, View::Done, None), [b]);
    let done = store.get_thread(b).unwrap();
    assert_eq!((done.view, done.unread), (View::Done, 0), "done is read");

    store
        .insert_inbound(
            &key(sales, "+447700900002"),
            "One more thing",
            "SM9",
            T0 + 20,
            None,
        )
        .unwrap();
    assert_eq!(ids(&store, View::Inbox, None), [b, c, a], "back, on top");
    assert!(ids(&store, View::Done, None).is_empty());
    let back = store.get_thread(b).unwrap();
    assert_eq!((back.view, back.unread), (View::Inbox, 1));
}

#[test]
fn our_own_send_brings_a_thread_back_but_quiet_records_do_not() {
    let (_dir, store, sales, [a, b, _c]) = three_threads();
    store.mark_done(a, T0 + 10).unwrap();
    store.mark_done(b, T0 + 10).unwrap();
    // History of a first sync and a message sent from another device: recorded quietly.
    let history = NewInbound {
        key: &key(sales, "+447700900001"),
        body: "old",
        carrier_sid: "SM50",
        created_at: T0 - 5,
        media: InboundMedia::None,
        messaging_service: None,
    };
    store
        .insert_inbound_batch(&[history], Arrival::History)
        .unwrap();
    let elsewhere = NewSentElsewhere {
        key: &key(sales, "+447700900002"),
        body: "sent from the other desk",
        carrier_sid: "SM51",
        created_at: T0 + 30,
        status: MessageStatus::Delivered,
        error: None,
        media: InboundMedia::None,
    };
    store.insert_sent_elsewhere_batch(&[elsewhere]).unwrap();
    assert_eq!(ids(&store, View::Done, None), [b, a], "still done");

    let reply = NewOutgoing {
        key: key(sales, "+447700900001"),
        body: "On it".into(),
        images: Vec::new(),
        client_id: "c1".into(),
    };
    store.enqueue_outgoing(&[reply], T0 + 40).unwrap();
    assert_eq!(ids(&store, View::Done, None), [b]);
    assert_eq!(
        ids(&store, View::Inbox, None)[0],
        a,
        "our reply: back on top"
    );
}

#[test]
fn a_snooze_hides_a_thread_until_its_time_then_it_is_back_on_top_unread() {
    let (_dir, store, _sales, [a, b, c]) = three_threads();
    assert_eq!(store.next_snooze_end().unwrap(), None);
    store.snooze(a, T0 + 1_000, T0 + 10).unwrap();
    store.snooze(b, T0 + 500, T0 + 10).unwrap();
    assert_eq!(ids(&store, View::Inbox, None), [c]);
    assert_eq!(ids(&store, View::Snoozed, None), [b, a]);
    let snoozed = store.get_thread(a).unwrap();
    assert_eq!(
        (snoozed.view, snoozed.snoozed_until, snoozed.unread),
        (View::Snoozed, Some(T0 + 1_000), 0)
    );
    assert_eq!(store.next_snooze_end().unwrap(), Some(T0 + 500));

    assert!(store.wake_snoozed(T0 + 499).unwrap().is_empty());
    assert_eq!(
        store.wake_snoozed(T0 + 2_000).unwrap(),
        [b, a],
        "soonest first"
    );
    assert!(store.wake_snoozed(T0 + 2_000).unwrap().is_empty(), "once");
    assert_eq!(store.next_snooze_end().unwrap(), None);
    assert_eq!(ids(&store, View::Inbox, None), [b, a, c], "on top");
    let woke = store.get_thread(a).unwrap();
    assert_eq!(
        (woke.view, woke.snoozed_until, woke.unread, woke.listed_at),
        (View::Inbox, None, 1, T0 + 2_000)
    );
    assert_eq!(
        woke.last_message_at,
        T0 + 1,
        "its last message is unchanged"
    );
}

#[test]
fn a_message_ends_a_snooze_early() {
    let (_dir, store, sales, [a, _b, c]) = three_threads();
    store.snooze(a, T0 + 1_000, T0 + 10).unwrap();
    store
        .insert_inbound(
            &key(sales, "+447700900001"),
            "Any news?",
            "SM9",
            T0 + 20,
            None,
        )
        .unwrap();
    assert_eq!(ids(&store, View::Inbox, None)[0], a);
    assert!(ids(&store, View::Snoozed, None).is_empty());
    assert_eq!(store.next_snooze_end().unwrap(), None);
    assert!(store.wake_snoozed(T0 + 2_000).unwrap().is_empty());
    assert_eq!(ids(&store, View::Inbox, None)[1], c);
}

#[test]
fn undone_and_mark_unread() {
    let (_dir, store, _sales, [a, b, c]) = three_threads();
    store.mark_read(a).unwrap();
    store.mark_done(a, T0 + 10).unwrap();
    store.move_to_inbox(a).unwrap();
    assert_eq!(ids(&store, View::Inbox, None), [c, b, a], "where it was");
    store.snooze(b, T0 + 1_000, T0 + 10).unwrap();
    store.move_to_inbox(b).unwrap();
    assert_eq!(store.get_thread(b).unwrap().snoozed_until, None);
    assert_eq!(store.next_snooze_end().unwrap(), None);

    store.mark_unread(a).unwrap();
    assert_eq!(store.get_thread(a).unwrap().unread, 1);
    store.mark_unread(a).unwrap();
    assert_eq!(
        store.get_thread(a).unwrap().unread,
        1,
        "at least one, not more"
    );
    assert_eq!(store.get_thread(c).unwrap().unread, 1);
    store.mark_unread(c).unwrap();
    assert_eq!(
        store.get_thread(c).unwrap().unread,
        1,
        "a real count is kept"
    );

    store.mark_done(c, T0 + 10).unwrap();
    store.mark_unread(c).unwrap();
    let c_now = store.get_thread(c).unwrap();
    assert_eq!(
        (c_now.view, c_now.unread),
        (View::Done, 1),
        "unread, still done"
    );

    let missing = ThreadId(999);
    for err in [
        store.mark_done(missing, T0).unwrap_err(),
        store.move_to_inbox(missing).unwrap_err(),
        store.mark_unread(missing).unwrap_err(),
        store.snooze(missing, T0 + 1, T0).unwrap_err(),
    ] {
        assert_eq!(err.code().as_str(), "thread_not_found");
    }
}

#[test]
fn unread_counts_per_line() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let support = line(&store, "+14155550101", "Support");
    let _quiet = line(&store, "+14155550102", "Quiet");
    for (i, (l, number)) in [
        (sales, "+447700900001"),
        (sales, "+447700900001"),
        (sales, "+447700900002"),
        (support, "+447700900001"),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .insert_inbound(
                &key(l, number),
                "Hi",
                &format!("SM{i}"),
                T0 + i as i64,
                None,
            )
            .unwrap();
    }
    assert_eq!(store.unread_by_line().unwrap(), [(sales, 3), (support, 1)]);
    assert_eq!(store.total_unread().unwrap(), 4);
    let support_thread = store.list_threads(Some(support), 10, None).unwrap()[0].id;
    store.mark_read(support_thread).unwrap();
    assert_eq!(store.unread_by_line().unwrap(), [(sales, 3)]);
    assert_eq!(store.total_unread().unwrap(), 3);
}

#[test]
fn each_view_pages_with_a_cursor_per_line() {
    let (_dir, store) = new_store();
    let sales = line(&store, "+14155550100", "Sales");
    let support = line(&store, "+14155550101", "Support");
    let mut done = Vec::new();
    for i in 0..12 {
        let l = if i % 2 == 0 { sales } else { support };
        let t = store
            .insert_inbound(
                &key(l, &format!("+4477009000{i:02}")),
                "Hi",
                &format!("SM{i}"),
                T0 + i,
                None,
            )
            .unwrap()
            .thread_id;
        if i % 3 == 0 {
            store.mark_done(t, T0 + 100).unwrap();
            done.push(t);
        }
    }
    done.reverse();
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list_view(View::Done, None, 3, cursor).unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.cursor());
        paged.extend(page.iter().map(|t| t.id));
    }
    assert_eq!(paged, done);
    let sales_done: Vec<ThreadId> = store
        .list_view(View::Done, Some(sales), 50, None)
        .unwrap()
        .into_iter()
        .map(|t| {
            assert_eq!((t.line_id, t.view), (sales, View::Done));
            t.id
        })
        .collect();
    assert_eq!(sales_done.len(), 2, "threads 0 and 6");
    assert_eq!(ids(&store, View::Inbox, Some(sales)).len(), 4);
}

#[test]
fn triage_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.db");
    let (a, b, c) = {
        let store = Store::create(&path, test_key()).unwrap();
        let sales = line(&store, "+14155550100", "Sales");
        let t = |i: i64| {
            store
                .insert_inbound(
                    &key(sales, &format!("+44770090000{i}")),
                    "Hi",
                    &format!("SM{i}"),
                    T0 + i,
                    None,
                )
                .unwrap()
                .thread_id
        };
        let (a, b, c) = (t(1), t(2), t(3));
        store.mark_done(a, T0 + 10).unwrap();
        store.snooze(b, T0 + 1_000, T0 + 10).unwrap();
        store.mark_unread(a).unwrap();
        (a, b, c)
    };
    let store = Store::open(&path, test_key()).unwrap();
    assert_eq!(ids(&store, View::Inbox, None), [c]);
    assert_eq!(ids(&store, View::Done, None), [a]);
    assert_eq!(ids(&store, View::Snoozed, None), [b]);
    assert_eq!(
        store.get_thread(a).unwrap().unread,
        1,
        "marked unread, kept"
    );
    assert_eq!(store.next_snooze_end().unwrap(), Some(T0 + 1_000));
    assert_eq!(store.wake_snoozed(T0 + 1_000).unwrap(), [b]);
    drop(store);
    let store = Store::open(&path, test_key()).unwrap();
    assert_eq!(
        ids(&store, View::Inbox, None),
        [b, c],
        "woken, on top, kept"
    );
}

#[test]
fn plan_triage_queries() {
    let (_dir, store) = store_with_history();
    let sql = |template| threads::list_sql(template);
    for view in View::ALL {
        let code = rows::view_code(view);
        let all = plan(
            &store,
            &sql(threads::LIST_ALL_SQL),
            params![i64::MAX, i64::MAX, 50, code],
        );
        check_plan(&all, &["SEARCH t USING INDEX threads_by_view (view=?"], &[]);
        let one_line = plan(
            &store,
            &sql(threads::LIST_LINE_SQL),
            params![i64::MAX, i64::MAX, 50, code, 1],
        );
        check_plan(
            &one_line,
            &["SEARCH t USING INDEX threads_by_line_view (line_id=? AND view=?"],
            &[],
        );
    }
    let unread = plan(&store, threads::UNREAD_BY_LINE_SQL, []);
    check_plan(
        &unread,
        &["threads_unread"],
        &["SCAN threads USING COVERING INDEX threads_unread"],
    );
    // The snoozed threads only, through the view's index.
    let next = plan(&store, threads::NEXT_SNOOZE_END_SQL, []);
    check_plan(
        &next,
        &["SEARCH threads USING INDEX threads_by_view (view=?)"],
        &[],
    );
    let wake = plan(&store, threads::WAKE_SQL, [T0]);
    check_plan(
        &wake,
        &["SEARCH threads USING INDEX threads_by_view (view=?)"],
        &[],
    );
}
