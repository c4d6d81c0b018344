// The image viewer: one message's images, larger, in a modal dialog ("Photo 1 of 2 from Ada
// Lovelace"). The arrow keys move between them, Escape closes (the bubble gives focus back to
// the image that opened it), and "Save image…" has the shell write the original bytes.
import { createSignal, onCleanup, onMount, Show } from "solid-js";
import { Portal } from "solid-js/web";
import type { AttachmentInfo, Backend, MessageRow } from "../backend";
import { messageOf } from "../backend";
import { itemName } from "../app/format";

export function Viewer(props: {
  backend: Backend;
  message: MessageRow;
  /** The message's images (ready, kind image), in order. */
  images: AttachmentInfo[];
  /** The item index (not the position) to open on. */
  start: number;
  /** "from Ada Lovelace", "sent to Ada Lovelace". */
  whose: string;
  onClose: () => void;
}) {
  const first = Math.max(0, props.images.findIndex((a) => a.index === props.start));
  const [at, setAt] = createSignal(first);
  const [error, setError] = createSignal("");
  const [saved, setSaved] = createSignal("");
  // The bubble opens the viewer only on a message with images.
  const item = () => props.images[Math.min(at(), props.images.length - 1)] as AttachmentInfo;
  const name = () => `${itemName(props.message, item())} ${props.whose}`;
  const move = (by: number) => {
    const next = at() + by;
    if (next < 0 || next >= props.images.length) return;
    setError("");
    setSaved("");
    setAt(next);
  };
  const save = async () => {
    setError("");
    setSaved("");
    try {
      const file = await props.backend.saveAttachment(props.message.id, item().index);
      if (file) setSaved(`Saved as ${file}.`);
    } catch (e) {
      setError(messageOf(e));
    }
  };

  let dialog: HTMLDivElement | undefined;
  onMount(() => dialog?.focus());
  const keys = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      props.onClose();
    } else if (e.key === "ArrowRight") {
      e.preventDefault();
      move(1);
    } else if (e.key === "ArrowLeft") {
      e.preventDefault();
      move(-1);
    } else if (e.key === "Tab" && dialog) {
      // Focus stays within the dialog.
      const stops = [...dialog.querySelectorAll<HTMLElement>("button:not([disabled])")];
      if (stops.length === 0) return;
      const i = stops.indexOf(document.activeElement as HTMLElement);
      const next = e.shiftKey ? (i <= 0 ? stops.length - 1 : i - 1) : (i + 1) % stops.length;
      e.preventDefault();
      stops[next]?.focus();
    }
  };
  // The page behind does not scroll under the viewer.
  const prior = document.body.style.overflow;
  document.body.style.overflow = "hidden";
  onCleanup(() => (document.body.style.overflow = prior));

  return (
    <Portal>
      <div class="viewer-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
        <div
          class="viewer"
          role="dialog"
          aria-modal="true"
          aria-label={name()}
          tabIndex={-1}
          ref={dialog}
          onKeyDown={keys}
        >
          <header class="viewer-header">
            <h2 aria-live="polite">{name()}</h2>
            <button onClick={() => void save()}>Save image…</button>
            <button class="icon" aria-label="Close" onClick={() => props.onClose()}>
              ✕
            </button>
          </header>
          <div class="viewer-stage">
            <button
              class="viewer-step"
              aria-label="Previous photo"
              disabled={at() === 0}
              onClick={() => move(-1)}
            >
              ‹
            </button>
            <img
              class="viewer-image"
              src={props.backend.mediaUrl(props.message.id, item().index, false)}
              alt={name()}
              draggable={false}
            />
            <button
              class="viewer-step"
              aria-label="Next photo"
              disabled={at() >= props.images.length - 1}
              onClick={() => move(1)}
            >
              ›
            </button>
          </div>
          <Show when={error()}>
            <p role="alert" class="error">{error()}</p>
          </Show>
          <Show when={saved()}>
            <p role="status" class="viewer-saved">{saved()}</p>
          </Show>
        </div>
      </div>
    </Portal>
  );
}
