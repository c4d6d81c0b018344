// One message of a conversation: its text (rendered as text, never HTML), every media item in
// order (images in a grid that opens the viewer, a download under way, one that failed, files
// listed by kind and size with Save…, and Try downloading again for media the carrier did not
// give), its delivery state (a message sent from another device
// says so), and Retry and Delete for a failure.
import { createSignal, For, Match, Show, Switch } from "solid-js";
import type { AttachmentInfo, Backend, MessageRow } from "../backend";
import { messageOf } from "../backend";
import {
  footerText, fullTime, isUnconfirmed, itemName, mediaLabel, shortTime, sizeText,
} from "../app/format";
import { Viewer } from "./Viewer";

/** An item the webview shows inline and in the viewer. */
const isImage = (a: AttachmentInfo) => a.state === "ready" && a.kind === "image";

export function Bubble(props: {
  backend: Backend;
  message: MessageRow;
  /** Who the thread is with ("Ada Lovelace"), for the viewer's name. */
  counterpart: string;
  onChanged: () => void;
}) {
  const m = () => props.message;
  const [error, setError] = createSignal("");
  const [saved, setSaved] = createSignal("");
  const [viewing, setViewing] = createSignal<number | null>(null);
  const images = () => m().attachments.filter(isImage);
  // A grid as soon as two pictures (or downloads, mostly pictures) stand side by side.
  const several = () =>
    m().attachments.filter((a) => isImage(a) || a.state === "downloading").length > 1;
  /** The image buttons by item index, to give focus back when the viewer closes. */
  const thumbs = new Map<number, HTMLButtonElement>();
  let opener: number | null = null;

  // One action at a time: a double click on Retry asks once.
  let acting = false;
  const act = async (f: () => Promise<unknown>) => {
    if (acting) return;
    acting = true;
    setError("");
    try {
      await f();
      props.onChanged();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      acting = false;
    }
  };
  /** Failed here, or accepted and then reported failed or undelivered by the carrier. */
  const failed = () => m().status === "failed" || m().status === "undelivered";
  const save = async (a: AttachmentInfo) => {
    setError("");
    setSaved("");
    try {
      const name = await props.backend.saveAttachment(m().id, a.index);
      if (name) setSaved(`Saved as ${name}.`);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  const open = (a: AttachmentInfo) => {
    opener = a.index;
    setViewing(a.index);
  };
  const close = () => {
    setViewing(null);
    if (opener !== null) thumbs.get(opener)?.focus();
  };
  const whose = () =>
    m().direction === "outbound" ? `sent to ${props.counterpart}` : `from ${props.counterpart}`;

  return (
    <article
      class="bubble"
      classList={{
        mine: m().direction === "outbound",
        failed: m().status === "failed",
        unconfirmed: isUnconfirmed(m()),
        elsewhere: m().sent_elsewhere,
      }}
      aria-label={m().direction === "outbound" ? "Sent message" : "Received message"}
      data-status={m().status}
    >
      <Show when={m().attachments.length > 0}>
        <ul class="media" classList={{ grid: several() }} aria-label="Attachments">
          <For each={m().attachments}>
            {(a) => (
              <li class="media-item" classList={{ wide: isImage(a) && !several() }}>
                <Switch fallback={<MediaFile message={m()} item={a} onSave={() => void save(a)} />}>
                  <Match when={isImage(a)}>
                    <button
                      class="media-image"
                      ref={(el) => thumbs.set(a.index, el)}
                      aria-label={itemName(m(), a)}
                      aria-haspopup="dialog"
                      onClick={() => open(a)}
                    >
                      <img
                        src={props.backend.mediaUrl(m().id, a.index, true)}
                        alt={itemName(m(), a)}
                        width={a.width ?? undefined}
                        height={a.height ?? undefined}
                        loading="lazy"
                        decoding="async"
                        draggable={false}
                      />
                    </button>
                  </Match>
                  <Match when={a.state === "downloading"}>
                    <div
                      class="media-pending"
                      role="img"
                      aria-label={`Downloading ${pendingWord(a)}…`}
                      style={a.width && a.height ? { "aspect-ratio": `${a.width} / ${a.height}` } : {}}
                    >
                      <span aria-hidden="true">Downloading {pendingWord(a)}…</span>
                    </div>
                  </Match>
                  <Match when={a.state === "unavailable"}>
                    <div class="media-missing" role="note" aria-label={`${itemName(m(), a)} unavailable`}>
                      {`${mediaLabel(a.kind)} ${a.index + 1} couldn't be downloaded from the carrier.`}
                    </div>
                  </Match>
                </Switch>
              </li>
            )}
          </For>
        </ul>
        <Show when={m().attachments.some((a) => a.state === "unavailable")}>
          <div class="bubble-actions">
            <button onClick={() => act(() => props.backend.retryMedia(m().id))}>
              Try downloading again
            </button>
          </div>
        </Show>
      </Show>
      <Show when={m().body}>
        <p class="bubble-text">{m().body}</p>
      </Show>
      <footer class="bubble-meta">
        <time datetime={new Date(m().created_at).toISOString()} title={fullTime(m().created_at)}>
          {shortTime(m().created_at)}
        </time>
        <Show when={footerText(m())}>
          <span class="status" data-status={m().status}>
            {" · "}
            {footerText(m())}
          </span>
        </Show>
      </footer>
      <Show when={failed()}>
        <div class="bubble-actions">
          {/* A message sent from another device is its sender's to retry. */}
          <Show when={!m().sent_elsewhere}>
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
          </Show>
          <button onClick={() => act(() => props.backend.deleteMessage(m().id))}>Delete</button>
        </div>
      </Show>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <Show when={saved()}>
        <p role="status" class="muted saved">{saved()}</p>
      </Show>
      <Show when={viewing() !== null && images().length > 0}>
        <Viewer
          backend={props.backend}
          message={m()}
          images={images()}
          start={viewing() ?? 0}
          whose={whose()}
          onClose={close}
        />
      </Show>
    </article>
  );
}

/** A file the webview does not render: its kind, its size, and Save…. */
function MediaFile(props: { message: MessageRow; item: AttachmentInfo; onSave: () => void }) {
  const a = () => props.item;
  const what = () => mediaLabel(a().kind);
  return (
    <div class="media-file">
      <span class="media-file-kind" aria-hidden="true">
        {fileGlyph(a().kind)}
      </span>
      <span class="media-file-text">
        {a().bytes !== null ? `${what()} · ${sizeText(a().bytes ?? 0)}` : what()}
      </span>
      <button onClick={() => props.onSave()} aria-label={`Save ${itemName(props.message, a())}…`}>
        Save…
      </button>
    </div>
  );
}

function fileGlyph(kind: AttachmentInfo["kind"]): string {
  switch (kind) {
    case "contact":
      return "👤";
    case "pdf":
      return "📄";
    case "audio":
      return "🎵";
    case "video":
      return "🎬";
    default:
      return "📎";
  }
}

/** A download's word: its kind once known, a photo when the carrier declared an image. */
function pendingWord(a: AttachmentInfo): string {
  if (a.kind) return a.kind === "image" ? "photo" : mediaLabel(a.kind);
  return a.mime?.startsWith("image/") ? "photo" : "attachment";
}
