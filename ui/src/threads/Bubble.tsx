// One message of a conversation: its text (rendered as text, never HTML), its media, its
// delivery state, and Retry and Delete for a failure.
import { createResource, createSignal, Show } from "solid-js";
import type { Backend, MessageRow } from "../backend";
import { messageOf } from "../backend";
import { fullTime, isUnconfirmed, shortTime, statusText } from "../app/format";

export function Bubble(props: { backend: Backend; message: MessageRow; onChanged: () => void }) {
  const m = () => props.message;
  const [error, setError] = createSignal("");
  const [image] = createResource(
    () => (m().attachments[0]?.state === "ready" && m().attachments[0]?.kind === "image" ? m().id : null),
    async (id) => {
      const a = await props.backend.attachment(id, 0);
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
