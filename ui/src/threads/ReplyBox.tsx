// The reply box of a conversation: it always sends from the thread's own line (no picker) and
// keeps its draft across restarts.
import { createSignal, Show } from "solid-js";
import type { Backend, ThreadDetail } from "../backend";
import { messageOf } from "../backend";
import { createDraft } from "../app/drafts";
import {
  AttachButton, AttachedImagesTray, NOTHING_ATTACHED, withoutImage,
  type AttachedImages,
} from "../app/attachment";

type ReplyDraft = { body: string };

export function ReplyBox(props: { backend: Backend; detail: ThreadDetail; onSent: () => void }) {
  const b = props.backend;
  const thread = props.detail.thread;
  const key = { Thread: thread.id } as const;
  const [body, setBody] = createSignal("");
  const [attached, setAttached] = createSignal<AttachedImages>(NOTHING_ATTACHED);
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  createDraft<ReplyDraft>(b, key, {
    snapshot: () => ({ body: body() }),
    images: attached,
    isEmpty: (d, images) => !d.body && images.images.length === 0,
    restore: (d, images) => {
      setBody(d.body ?? "");
      setAttached(images);
    },
    onError: setError,
  });

  const send = async () => {
    if (busy()) return;
    setBusy(true);
    setError("");
    try {
      await b.reply(thread.id, body(), attached().images.map((i) => i.data));
      setBody("");
      setAttached(NOTHING_ATTACHED);
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
      <AttachedImagesTray
        attached={attached()}
        onRemove={(i) => setAttached(withoutImage(attached(), i))}
      />
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <div class="reply-row">
        <AttachButton
          backend={b}
          attached={attached()}
          onAttached={setAttached}
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
        <button type="submit" class="primary" disabled={busy() || (!body().trim() && attached().images.length === 0)}>
          Send from {thread.line.label}
        </button>
      </div>
    </form>
  );
}
