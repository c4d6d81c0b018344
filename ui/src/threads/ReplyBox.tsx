// The reply box of a conversation: it always sends from the thread's own line (no picker) and
// keeps its draft across restarts. It lives as long as its thread is on screen (the conversation
// does not rebuild it when the thread updates), and what is typed while a reply is on its way
// stays in the box for the next one. "Templates" (or "/" in an empty box) inserts a saved
// template, which Rust fills for the thread's contact and line when it is sent.
import { createSignal, Show } from "solid-js";
import type { Backend, ThreadView } from "../backend";
import { messageOf } from "../backend";
import { createDraft } from "../app/drafts";
import {
  AttachButton, AttachedImagesTray, NOTHING_ATTACHED, withoutImage,
  type AttachedImages,
} from "../app/attachment";
import { TemplatePicker, type PickerHandle } from "../templates/TemplatePicker";

type ReplyDraft = { body: string; template?: boolean };

export function ReplyBox(props: { backend: Backend; thread: ThreadView; onSent: () => void }) {
  const b = props.backend;
  // The box belongs to one thread: its owner makes a new box for another thread.
  const id = props.thread.id;
  const key = { Thread: id } as const;
  const [body, setBody] = createSignal("");
  const [templated, setTemplated] = createSignal(false);
  let picker: PickerHandle | undefined;
  let field: HTMLTextAreaElement | undefined;
  const [attached, setAttached] = createSignal<AttachedImages>(NOTHING_ATTACHED);
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  const draft = createDraft<ReplyDraft>(b, key, {
    snapshot: () => ({ body: body(), template: templated() }),
    images: attached,
    isEmpty: (d, images) => !d.body && images.images.length === 0,
    restore: (d, images) => {
      setBody(d.body ?? "");
      setTemplated(!!d.template && !!d.body);
      setAttached(images);
    },
    onError: setError,
  });

  const send = async () => {
    if (busy()) return;
    setBusy(true);
    setError("");
    const text = body();
    const images = attached();
    const template = templated();
    try {
      await draft.clearWith(() => b.reply(id, text, images.images.map((i) => i.data), template));
      // Only what went is taken out of the box: words typed since Send stay, as the next draft.
      setBody(body().startsWith(text) ? body().slice(text.length) : body());
      if (!body()) setTemplated(false);
      if (attached() === images) setAttached(NOTHING_ATTACHED);
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
        <TemplatePicker
          backend={b}
          id={`reply-${id}`}
          onPick={(t) => {
            setBody(t.text);
            setTemplated(true);
            queueMicrotask(() => field?.focus());
          }}
          onError={setError}
          handle={(h) => (picker = h)}
        />
        <textarea
          ref={field}
          aria-label="Reply text"
          placeholder={`Reply from ${props.thread.line.label}`}
          rows={2}
          maxLength={1600}
          value={body()}
          onInput={(e) => {
            setBody(e.currentTarget.value);
            if (!e.currentTarget.value) setTemplated(false);
          }}
          onKeyDown={(e) => {
            if (e.key === "/" && !body() && !e.ctrlKey && !e.metaKey && !e.altKey) {
              e.preventDefault();
              picker?.open(e.currentTarget);
            } else if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              void send();
            }
          }}
        />
        <button type="submit" class="primary" disabled={busy() || (!body().trim() && attached().images.length === 0)}>
          Send from {props.thread.line.label}
        </button>
      </div>
    </form>
  );
}
