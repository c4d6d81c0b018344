// One conversation: its messages (text rendered as text, never HTML), media, delivery states
// with retry and delete for failures, and the reply box, which always sends from the thread's
// own line (no picker) and keeps its draft across restarts. A thread with a short code or a
// sender name (verification codes) takes no replies: the engine's sentence stands in the box's
// place.
//
// History comes in pages through the engine's cursor: the newest page (NEWEST, a few screens) is
// read again on every event of the thread; older pages (PAGE) are added at the top when the
// person scrolls there (or presses "Show older messages"), stay loaded, and keep the message
// being read where it was.
import { createEffect, createResource, createSignal, For, on, Show } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import type { Backend, MessageCursor, MessageId, MessageRow, ThreadDetail, ThreadId } from "../backend";
import { messageOf } from "../backend";
import { Bubble } from "./Bubble";
import { ScheduledItem } from "../outbox/Scheduled";
import { afterNewest, withOlderPage } from "./pages";
import { ReplyBox } from "./ReplyBox";
import { TriageActions, type TriageAction } from "./Triage";

/** The newest page: what a switch to the thread draws before it is painted, so a few screens
 * rather than a hundred bubbles (most of a switch's time was drawing them, not reading them). */
const NEWEST = 30;
const PAGE = 100;
/** How close to the top (in pixels) the scroll has to come for the next older page to load. */
const NEAR_TOP = 400;

const cursorOf = (m: MessageRow): MessageCursor => ({ created_at: m.created_at, id: m.id });

export function Conversation(props: {
  backend: Backend;
  thread: ThreadId;
  /** Bumped by the parent when an event touched this thread. */
  version: number;
  /** The messages of this thread that events changed since last asked (their status, their
   * media), or "all" after events were missed: those in older pages are read again, as the
   * newest page is. */
  takeTouched: () => MessageId[] | "all";
  compact: boolean;
  onBack: () => void;
  onChanged: () => void;
  onTriage: (action: TriageAction) => void;
}) {
  const b = props.backend;
  const [detail, { refetch }] = createResource(
    () => props.thread,
    (id) => b.thread(id, NEWEST, null),
  );
  createEffect(
    on(
      () => props.version,
      () => {
        const touched = props.takeTouched();
        // Once the newest page is in: a touched message it pushed out to the older pages moved
        // there as it was before the event.
        void Promise.resolve(refetch()).then(() => reread(touched));
      },
      { defer: true },
    ),
  );

  // Oldest first, as people read: the older pages, then the newest page. A message pushed out of
  // the newest page by new ones moves to the older ones rather than away from the screen.
  const [older, setOlder] = createSignal<MessageRow[]>([]);
  const [start, setStart] = createSignal(false);
  let newest: MessageRow[] = [];
  /** Bumped when the older pages are let go (a burst of more than a page): an older page asked
   * for before then would land above a gap. */
  let resets = 0;
  createEffect(
    on(() => detail.latest, (d) => {
      if (!d) return;
      const page = [...d.messages].reverse();
      const next = afterNewest({ older: older(), start: start() }, newest, page, NEWEST);
      if (next.older.length === 0 && !next.start) resets++;
      setOlder(next.older);
      setStart(next.start);
      newest = page;
      show();
      // A window taller than the newest page has nothing to scroll: the page before comes at
      // once, as a scroll to the top would bring it.
      requestAnimationFrame(() => {
        if (log && log.scrollHeight - log.clientHeight < NEAR_TOP) void loadOlder();
      });
    }),
  );

  // Reconciled by id, so that a message read again (any event refetches the newest page) keeps its
  // bubble: an open viewer stays open, and its images are not loaded again.
  const [messages, setMessages] = createStore<MessageRow[]>([]);
  const show = () => setMessages(reconcile([...older(), ...newest], { key: "id" }));

  let log: HTMLDivElement | undefined;
  let stick = true;
  createEffect(
    on(() => messages.length && messages[messages.length - 1]?.id, () => {
      if (log && stick) queueMicrotask(() => log && (log.scrollTop = log.scrollHeight));
    }),
  );

  // The next older page, added at the top with the first message on screen kept in its place.
  const [loadingOlder, setLoadingOlder] = createSignal(false);
  const [olderError, setOlderError] = createSignal("");
  const loadOlder = async () => {
    const first = messages[0];
    if (loadingOlder() || start() || !first) return;
    setLoadingOlder(true);
    setOlderError("");
    const asked = resets;
    try {
      const page = await b.thread(props.thread, PAGE, cursorOf(first));
      // The pages changed under it: this page no longer joins what is shown (the next scroll
      // asks again, from the new top).
      if (asked !== resets || messages[0]?.id !== first.id) return;
      const anchor = firstOnScreen();
      const top = anchor?.getBoundingClientRect().top ?? 0;
      const next = withOlderPage({ older: older(), start: start() }, [...messages], page.messages, PAGE);
      setOlder(next.older);
      setStart(next.start);
      show();
      if (log && anchor) log.scrollTop += anchor.getBoundingClientRect().top - top;
    } catch (e) {
      setOlderError(messageOf(e));
    } finally {
      setLoadingOlder(false);
    }
  };
  const firstOnScreen = (): HTMLElement | undefined => {
    if (!log) return undefined;
    const top = log.getBoundingClientRect().top;
    const bubbles = log.querySelectorAll<HTMLElement>(":scope > .bubble");
    return Array.from(bubbles).find((el) => el.getBoundingClientRect().bottom > top);
  };

  // A message changed by its own buttons (Retry, Delete) is read again where it is, since it may
  // be older than the newest page.
  const changed = async (m: MessageRow) => {
    props.onChanged();
    void refetch();
    await reread([m.id]);
  };

  // Messages of the older pages read again by id, in place; one that is gone (deleted) leaves
  // the page. The reads go one after another, so that the last applied is the last read.
  let rereads = Promise.resolve();
  const reread = (ids: MessageId[] | "all") => {
    rereads = rereads.then(async () => {
      const wanted = ids === "all" ? older().map((m) => m.id) : ids.filter((id) => older().some((o) => o.id === id));
      for (let i = 0; i < wanted.length; i += PAGE) {
        const chunk = wanted.slice(i, i + PAGE);
        try {
          const found = new Map((await b.messages(chunk)).map((m) => [m.id, m]));
          const asked = new Set(chunk);
          setOlder(older().flatMap((o) => (!asked.has(o.id) ? [o] : found.has(o.id) ? [found.get(o.id)!] : [])));
          show();
        } catch (e) {
          setOlderError(messageOf(e));
        }
      }
    });
    return rereads;
  };

  return (
    <section class="conversation" aria-label="Conversation">
      <Show when={detail.latest} fallback={<p class="empty">Loading…</p>}>
        {(d) => <Header detail={d()} compact={props.compact} onBack={props.onBack} onTriage={props.onTriage} />}
      </Show>
      <Show when={detail.error}>
        <p role="alert" class="error">{messageOf(detail.error)}</p>
      </Show>
      <div
        class="messages"
        role="log"
        aria-label="Messages"
        // A region that scrolls can be reached and scrolled by the keyboard.
        tabIndex={0}
        aria-busy={loadingOlder()}
        ref={log}
        onScroll={() => {
          if (!log) return;
          stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
          if (log.scrollTop < NEAR_TOP) void loadOlder();
        }}
      >
        <Show when={detail.latest && !start()}>
          {/* For keyboard users; scrolling to the top loads them too. */}
          {/* Never disabled while loading: a disabled button would lose the focus. */}
          <button class="link" onClick={() => void loadOlder()}>
            {loadingOlder() ? "Loading older messages…" : "Show older messages"}
          </button>
        </Show>
        <Show when={olderError()}>
          <p role="alert" class="error">{olderError()}</p>
        </Show>
        <For each={messages}>
          {(m) => (
            <Bubble
              backend={b}
              message={m}
              counterpart={detail.latest?.thread.display ?? ""}
              onChanged={() => void changed(m)}
            />
          )}
        </For>
      </div>
      <Show when={(detail.latest?.scheduled.length ?? 0) > 0}>
        <ul class="scheduled-list in-thread" aria-label="Scheduled in this conversation">
          <For each={detail.latest?.scheduled ?? []}>
            {(item) => <ScheduledItem backend={b} item={item} showTo={false} onChanged={() => void refetch()} />}
          </For>
        </ul>
      </Show>
      {/* One reply box for as long as this thread is open: an update of the thread (an inbound
          message, a status) never takes the box, its focus or its text away. */}
      <Show when={detail.latest?.thread}>
        {(t) => (
          <Show
            when={t().cannot_reply}
            fallback={<ReplyBox backend={b} thread={t()} onSent={() => { void refetch(); props.onChanged(); }} />}
          >
            {(why) => <p class="no-reply" role="note" aria-label="Replies">{why().message}</p>}
          </Show>
        )}
      </Show>
    </section>
  );
}

function Header(props: {
  detail: ThreadDetail;
  compact: boolean;
  onBack: () => void;
  onTriage: (action: TriageAction) => void;
}) {
  const t = () => props.detail.thread;
  return (
    <header class="conversation-header">
      <Show when={props.compact}>
        <button class="icon" aria-label="Back to conversations" onClick={props.onBack}>
          ←
        </button>
      </Show>
      <div>
        <h2>{t().display}</h2>
        <p class="muted">
          {t().display === t().counterpart_display ? "" : `${t().counterpart_display} · `}
          <span class="line-chip" style={{ "--line-color": t().line.color }}>
            {t().line.label}
          </span>
          <Show when={t().opted_out}>
            {(o) => <span class="opted-out-badge"> · Opted out of {o().line}</span>}
          </Show>
        </p>
      </div>
      <span class="spacer" />
      <TriageActions thread={t()} onAction={props.onTriage} />
    </header>
  );
}
