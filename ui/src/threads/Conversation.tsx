// One conversation: its messages (text rendered as text, never HTML), images, delivery states
// with retry and delete for failures, and the reply box, which always sends from the thread's
// own line (no picker) and keeps its draft across restarts. A thread with a short code or a
// sender name (verification codes) takes no replies: the engine's sentence stands in the box's
// place.
import { createEffect, createResource, createSignal, For, on, Show } from "solid-js";
import type { Backend, ImageData, MessageRow, ThreadDetail, ThreadId } from "../backend";
import { messageOf } from "../backend";
import { fullTime, isUnconfirmed, shortTime, statusText } from "../app/format";
import { createDraft } from "../app/drafts";
import { AttachButton, AttachedImage } from "../app/attachment";

const PAGE = 100;

type ReplyDraft = { body: string; image: ImageData | null };

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

  // Oldest at the top, as people read.
  const messages = () => [...(detail.latest?.messages ?? [])].reverse();
  let log: HTMLDivElement | undefined;
  let stick = true;
  createEffect(
    on(messages, () => {
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
        <For each={messages()}>
          {(m) => <Bubble backend={b} message={m} onChanged={() => { void refetch(); props.onChanged(); }} />}
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

function Bubble(props: { backend: Backend; message: MessageRow; onChanged: () => void }) {
  const m = () => props.message;
  const [error, setError] = createSignal("");
  const [image] = createResource(
    () => (m().has_attachment ? m().id : null),
    async (id) => {
      const a = await props.backend.attachment(id);
      return `data:${a.mime};base64,${a.data}`;
    },
  );
  const act = async (f: () => Promise<unknown>) => {
    setError("");
    try {
      await f();
      props.onChanged();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return (
    <article
      class="bubble"
      classList={{
        mine: m().direction === "outbound",
        failed: m().status === "failed",
        unconfirmed: isUnconfirmed(m()),
      }}
      aria-label={m().direction === "outbound" ? "Sent message" : "Received message"}
      data-status={m().status}
    >
      <Show when={image()}>
        {(src) => <img class="bubble-image" src={src()} alt="Image in the message" />}
      </Show>
      <Show when={m().body}>
        <p class="bubble-text">{m().body}</p>
      </Show>
      <footer class="bubble-meta">
        <time datetime={new Date(m().created_at).toISOString()} title={fullTime(m().created_at)}>
          {shortTime(m().created_at)}
        </time>
        <Show when={statusText(m())}>
          <span class="status" data-status={m().status}>
            {" · "}
            {statusText(m())}
          </span>
        </Show>
      </footer>
      <Show when={m().status === "failed"}>
        <div class="bubble-actions">
          <button
            onClick={() => act(() => props.backend.retryMessage(m().id, null))}
            title={
              isUnconfirmed(m())
                ? "Check with the carrier, and send it only if it never arrived"
                : "Send it again"
            }
          >
            Retry
          </button>
          <button onClick={() => act(() => props.backend.deleteMessage(m().id))}>Delete</button>
        </div>
      </Show>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
    </article>
  );
}

function ReplyBox(props: { backend: Backend; detail: ThreadDetail; onSent: () => void }) {
  const b = props.backend;
  const thread = props.detail.thread;
  const key = { Thread: thread.id } as const;
  const [body, setBody] = createSignal("");
  const [image, setImage] = createSignal<ImageData | null>(null);
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  createDraft<ReplyDraft>(b, key, {
    snapshot: () => ({ body: body(), image: image() }),
    isEmpty: (d) => !d.body && !d.image,
    restore: (d) => {
      setBody(d.body ?? "");
      setImage(d.image ?? null);
    },
    onError: setError,
  });

  const send = async () => {
    if (busy()) return;
    setBusy(true);
    setError("");
    try {
      await b.reply(thread.id, body(), image()?.data ?? null);
      setBody("");
      setImage(null);
      props.onSent();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form
      class="reply"
      aria-label="Reply"
      onSubmit={(e) => {
        e.preventDefault();
        void send();
      }}
    >
      <AttachedImage
        image={image()}
        onRemove={() => setImage(null)}
      />
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <div class="reply-row">
        <AttachButton
          backend={b}
          onAttached={setImage}
          onError={setError}
        />
        <textarea
          aria-label="Reply text"
          placeholder={`Reply from ${thread.line.label}`}
          rows={2}
          maxLength={1600}
          value={body()}
          onInput={(e) => setBody(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <button type="submit" class="primary" disabled={busy() || (!body().trim() && !image())}>
          Send from {thread.line.label}
        </button>
      </div>
    </form>
  );
}
