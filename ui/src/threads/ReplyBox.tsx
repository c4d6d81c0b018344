// The reply box of a conversation: it always sends from the thread's own line (no picker) and
// keeps its draft across restarts.
import { createSignal, Show } from "solid-js";
import type { Backend, ImageData, ThreadDetail } from "../backend";
import { messageOf } from "../backend";
import { createDraft } from "../app/drafts";
import { AttachButton, AttachedImage } from "../app/attachment";

type ReplyDraft = { body: string; image: ImageData | null };

export function ReplyBox(props: { backend: Backend; detail: ThreadDetail; onSent: () => void }) {
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
