// One conversation: its messages (text rendered as text, never HTML), media, delivery states
// with retry and delete for failures, and the reply box, which always sends from the thread's
// own line (no picker) and keeps its draft across restarts. A thread with a short code or a
// sender name (verification codes) takes no replies: the engine's sentence stands in the box's
// place.
import { createEffect, createResource, createSignal, For, on, Show } from "solid-js";
import { createStore, reconcile } from "solid-js/store";
import type { Backend, MessageRow, ThreadDetail, ThreadId } from "../backend";
import { messageOf } from "../backend";
import { Bubble } from "./Bubble";
import { ReplyBox } from "./ReplyBox";

const PAGE = 100;

export function Conversation(props: {
  backend: Backend;
  thread: ThreadId;
  /** Bumped by the parent when an event touched this thread. */
  version: number;
  compact: boolean;
  onBack: () => void;
  onChanged: () => void;
}) {
  const b = props.backend;
  const [limit, setLimit] = createSignal(PAGE);
  const [detail, { refetch }] = createResource(
    () => [props.thread, limit()] as const,
    ([id, n]) => b.thread(id, n, null),
  );
  createEffect(on(() => props.version, () => void refetch(), { defer: true }));

  // Oldest at the top, as people read. Reconciled by id, so that a message read again (any
  // event refetches the page) keeps its bubble: an open viewer stays open, and its images are
  // not loaded again.
  const [messages, setMessages] = createStore<MessageRow[]>([]);
  createEffect(() =>
    setMessages(reconcile([...(detail.latest?.messages ?? [])].reverse(), { key: "id" })),
  );
  let log: HTMLDivElement | undefined;
  let stick = true;
  createEffect(
    on(() => messages.length && messages[messages.length - 1]?.id, () => {
      if (log && stick) queueMicrotask(() => log && (log.scrollTop = log.scrollHeight));
    }),
  );

  return (
    <section class="conversation" aria-label="Conversation">
      <Show when={detail.latest} fallback={<p class="empty">Loading…</p>}>
        {(d) => <Header detail={d()} compact={props.compact} onBack={props.onBack} />}
      </Show>
      <Show when={detail.error}>
        <p role="alert" class="error">{messageOf(detail.error)}</p>
      </Show>
      <div
        class="messages"
        role="log"
        aria-label="Messages"
        ref={log}
        onScroll={() => log && (stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40)}
      >
        <Show when={(detail.latest?.messages.length ?? 0) >= limit()}>
          <button class="link" onClick={() => setLimit(limit() + PAGE)}>
            Show older messages
          </button>
        </Show>
        <For each={messages}>
          {(m) => (
            <Bubble
              backend={b}
              message={m}
              counterpart={detail.latest?.thread.display ?? ""}
              onChanged={() => { void refetch(); props.onChanged(); }}
            />
          )}
        </For>
      </div>
      <Show when={detail.latest} keyed>
        {(d) => (
          <Show
            when={d.thread.cannot_reply}
            fallback={<ReplyBox backend={b} detail={d} onSent={() => { void refetch(); props.onChanged(); }} />}
          >
            {(why) => <p class="no-reply" role="note" aria-label="Replies">{why().message}</p>}
          </Show>
        )}
      </Show>
    </section>
  );
}

function Header(props: { detail: ThreadDetail; compact: boolean; onBack: () => void }) {
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
          {t().display === t().counterpart ? "" : `${t().counterpart} · `}
          <span class="line-chip" style={{ "--line-color": t().line.color }}>
            {t().line.label}
          </span>
        </p>
      </div>
    </header>
  );
}
