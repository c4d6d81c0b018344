//! Opt-outs end to end below the window: the sandbox plays the carrier's side (a STOP blocks the
//! line and is answered, a send after it is refused with 21610, START lifts it), the sync
//! learns them from the messages it records, the composer leaves opted-out recipients out and
//! names them, and the runner never sends to them — with Twilio's habits on: messages listed a
//! second late, dates to the second, the carrier's clock 7 s ahead of ours.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_engine::core::model::{Line, MessageStatus, E164};
use switchboard_engine::store::OptOutSource;
use switchboard_engine::{
    ComposeRequest, ComposerState, DemoContact, Engine, EngineError, KeyChoice, Runner,
    RunnerError, SandboxAccess,
};
use switchboard_sandbox::{serve_sandbox, SandboxHandle};

struct Office {
    _dir: tempfile::TempDir,
    engine: Arc<Engine>,
    sandbox: SandboxHandle,
    runner: Runner,
    sales: Line,
    support: Line,
    /// The demo contacts' numbers: Ada, Grace, Katherine, Alan.
    people: Vec<E164>,
}

async fn office() -> Office {
    let dir = tempfile::tempdir().unwrap();
    let engine = Arc::new(
        Engine::open(
            &dir.path().join("data"),
            KeyChoice::KeyFile(dir.path().join("key")),
        )
        .unwrap(),
    );
    let (sandbox, _) = serve_sandbox(&dir.path().join("data"), None, 0)
        .await
        .unwrap();
    sandbox.set_list_lag(Duration::from_secs(1)).unwrap();
    sandbox.set_clock_skew(7).unwrap();
    let access = SandboxAccess {
        endpoint: sandbox.endpoint(),
        demo_contacts: sandbox
            .demo_contacts()
            .into_iter()
            .map(|c| DemoContact {
                name: c.name,
                number: c.number,
            })
            .collect(),
    };
    let reach = || {
        let access = access.clone();
        async move { Ok::<_, RunnerError>(access) }
    };
    let runner = engine
        .start_background(reach, Duration::ZERO)
        .await
        .unwrap();
    let line = |label: &str| {
        engine
            .lines()
            .unwrap()
            .into_iter()
            .find(|l| l.label == label)
            .unwrap()
    };
    let (sales, support) = (line("Sales"), line("Support"));
    let people = sandbox
        .demo_contacts()
        .into_iter()
        .map(|c| c.number)
        .collect();
    Office {
        _dir: dir,
        engine,
        sandbox,
        runner,
        sales,
        support,
        people,
    }
}

impl Office {
    /// Runs the runner until `done` holds (the carrier lists a message a second late).
    async fn until(&self, what: &str, done: impl Fn(&Office) -> bool) {
        let started = Instant::now();
        while !done(self) {
            assert!(started.elapsed() < Duration::from_secs(20), "never: {what}");
            self.runner.run_once().await;
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    fn opted_out_of(&self, line: &Line) -> Vec<E164> {
        self.engine
            .opt_outs(Some(line.id))
            .unwrap()
            .into_iter()
            .map(|o| o.number)
            .collect()
    }

    fn request(&self, to: &[&E164], body: &str, line: &Line) -> ComposeRequest {
        ComposeRequest {
            recipients: to.iter().map(|n| n.to_string()).collect(),
            body: body.into(),
            images: Vec::new(),
            line: Some(line.id),
        }
    }

    /// What the carrier accepted from our lines, to `to`.
    fn received_by(&self, to: &E164) -> Vec<String> {
        let lines = [&self.sales.number, &self.support.number];
        self.sandbox
            .messages()
            .into_iter()
            .filter(|m| !m.inbound && &m.to == to && lines.contains(&&m.from))
            .filter(|m| !m.body.contains("unsubscribed") && !m.body.contains("re-subscribed"))
            .map(|m| m.body)
            .collect()
    }
}

#[tokio::test]
async fn a_stop_is_learnt_from_the_sync_and_the_composer_leaves_them_out() {
    let o = office().await;
    let (ada, grace, katherine) = (&o.people[0], &o.people[1], &o.people[2]);
    o.sandbox.reply(ada, &o.sales.number, "Stop", None).unwrap();
    o.until("Ada's STOP is synced", |o| {
        !o.opted_out_of(&o.sales).is_empty()
    })
    .await;
    let listed = o.engine.opt_outs(None).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].display, "Ada Lovelace");
    assert_eq!(listed[0].lines, ["Sales"], "Support may still text her");
    assert_eq!(listed[0].source, OptOutSource::Keyword);

    // Alone, she is refused before anything is queued, in words.
    let before = o.engine.pending_count().unwrap();
    let refused = o
        .engine
        .send(&o.request(&[ada], "Our sale starts today", &o.sales), None)
        .unwrap_err();
    assert!(matches!(refused, EngineError::OptedOut { .. }), "{refused}");
    assert_eq!(refused.code().as_str(), "opted_out");
    assert!(
        refused
            .to_string()
            .contains("Ada Lovelace has opted out of messages from Sales"),
        "{refused}"
    );
    assert_eq!(o.engine.pending_count().unwrap(), before, "nothing queued");
    let preview = o
        .engine
        .live_preview(&ComposerState {
            recipients: vec![ada.to_string()],
            body: "Our sale starts today".into(),
            line: Some(o.sales.id),
            images: Vec::new(),
            template: false,
        })
        .unwrap();
    assert_eq!(preview.opted_out.len(), 1);
    assert_eq!(preview.problem.map(|p| p.code.as_str()), Some("opted_out"));

    // In a fan-out the others go and she is named.
    let receipt = o
        .engine
        .send(
            &o.request(&[ada, grace, katherine], "Our sale starts today", &o.sales),
            None,
        )
        .unwrap();
    let sent: Vec<&E164> = receipt.sent.iter().map(|s| &s.recipient.number).collect();
    assert_eq!(sent, [grace, katherine]);
    assert_eq!(receipt.left_out.len(), 1);
    assert_eq!(receipt.left_out[0].display, "Ada Lovelace");
    o.until("both sent", |o| o.engine.pending_count().unwrap() == 0)
        .await;
    assert!(o.received_by(ada).is_empty(), "nothing went to Ada");
    assert_eq!(o.received_by(grace), ["Our sale starts today"]);

    // From Support she can still be texted.
    o.engine
        .send(
            &o.request(&[ada], "Your ticket is closed", &o.support),
            None,
        )
        .unwrap();
    o.until("Support's message sent", |o| {
        o.engine.pending_count().unwrap() == 0
    })
    .await;
    assert_eq!(o.received_by(ada), ["Your ticket is closed"]);

    // Her Sales thread says so in place of the reply box, and holds the carrier's answer.
    o.until("the carrier's answer is in the thread", |o| {
        let threads = o.engine.threads(Some(o.sales.id), 50, None).unwrap();
        threads.iter().any(|t| {
            &t.counterpart == ada
                && o.engine
                    .thread(t.id, 50, None)
                    .unwrap()
                    .messages
                    .iter()
                    .any(|m| m.sent_elsewhere && m.body.contains("unsubscribed"))
        })
    })
    .await;
    let thread = o
        .engine
        .threads(Some(o.sales.id), 50, None)
        .unwrap()
        .into_iter()
        .find(|t| &t.counterpart == ada)
        .unwrap();
    let detail = o.engine.thread(thread.id, 50, None).unwrap();
    assert!(detail.thread.opted_out.is_some());
    assert_eq!(
        detail.thread.cannot_reply.map(|c| c.code.as_str()),
        Some("opted_out")
    );
    let reply = o
        .engine
        .reply(thread.id, "Are you sure?", Vec::new(), None)
        .unwrap_err();
    assert_eq!(reply.code().as_str(), "opted_out");

    // START lifts it: the next message goes.
    o.sandbox
        .reply(ada, &o.sales.number, "START", None)
        .unwrap();
    o.until("Ada's START is synced", |o| {
        o.opted_out_of(&o.sales).is_empty()
    })
    .await;
    o.engine
        .reply(thread.id, "Welcome back!", Vec::new(), None)
        .unwrap();
    o.until("the welcome is sent", |o| {
        o.engine.pending_count().unwrap() == 0
    })
    .await;
    assert!(o.received_by(ada).contains(&"Welcome back!".to_owned()));
}

#[tokio::test]
async fn a_stop_not_yet_synced_is_learnt_from_the_carriers_21610_and_nothing_reaches_them() {
    let o = office().await;
    let alan = &o.people[3];
    // Alan texts STOP; the carrier lists it a second late, so our send races it.
    o.sandbox
        .reply(alan, &o.sales.number, "UNSUBSCRIBE", None)
        .unwrap();
    let receipt = o
        .engine
        .send(
            &o.request(&[alan], "Your parcel is on its way", &o.sales),
            None,
        )
        .unwrap();
    let message = receipt.sent[0].message_id;
    o.runner.run_once().await;
    let failed = o.engine.messages(&[message]).unwrap().remove(0);
    assert_eq!(failed.status, MessageStatus::Failed);
    assert_eq!(
        failed.error.as_ref().and_then(|e| e.code.as_deref()),
        Some("21610")
    );
    assert_eq!(o.opted_out_of(&o.sales), std::slice::from_ref(alan));
    assert!(o.received_by(alan).is_empty());

    // What the carrier said is known now: a new fan-out leaves him out before anything goes.
    let again = o
        .engine
        .send(
            &o.request(&[alan, &o.people[1]], "Last call", &o.sales),
            None,
        )
        .unwrap();
    assert_eq!(again.sent.len(), 1, "Alan left out: {again:?}");
    assert_eq!(again.left_out[0].number, *alan);
    o.until("sent", |o| o.engine.pending_count().unwrap() == 0)
        .await;
    assert!(o.received_by(alan).is_empty());

    // Later his STOP is listed too (dated before the refusal): still one opt-out.
    o.until("his STOP is listed", |o| o.synced(alan, "UNSUBSCRIBE"))
        .await;
    let kept = o.engine.opt_outs(None).unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0].number, *alan);
}

impl Office {
    /// Whether the sync has recorded `body` from `from` in their Sales thread.
    fn synced(&self, from: &E164, body: &str) -> bool {
        self.engine
            .threads(Some(self.sales.id), 50, None)
            .unwrap()
            .iter()
            .filter(|t| &t.counterpart == from)
            .any(|t| {
                self.engine
                    .thread(t.id, 50, None)
                    .unwrap()
                    .messages
                    .iter()
                    .any(|m| m.body == body)
            })
    }
}

#[tokio::test]
async fn a_queued_message_whose_recipient_opts_out_before_it_leaves_is_not_sent() {
    let o = office().await;
    let grace = &o.people[1];
    o.sandbox.set_online(false).await.unwrap();
    let receipt = o
        .engine
        .send(&o.request(&[grace], "See you Monday", &o.sales), None)
        .unwrap();
    o.runner.run_once().await;
    assert_eq!(o.engine.pending_count().unwrap(), 1, "waits offline");
    // While we are offline she texts STOP; back online, the runner sends first, then syncs:
    // the carrier refuses it, and it is never accepted.
    o.sandbox
        .reply(grace, &o.sales.number, "stop", None)
        .unwrap();
    o.sandbox.set_online(true).await.unwrap();
    o.until("settled", |o| o.engine.pending_count().unwrap() == 0)
        .await;
    let m = o
        .engine
        .messages(&[receipt.sent[0].message_id])
        .unwrap()
        .remove(0);
    assert_eq!(m.status, MessageStatus::Failed);
    assert!(o.received_by(grace).is_empty());
    assert_eq!(o.opted_out_of(&o.sales), std::slice::from_ref(grace));
}
