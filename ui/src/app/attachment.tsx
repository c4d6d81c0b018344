// Attaching images, the same in the New message window and in a reply box: several files can be
// picked at once and the button pressed again to add more (Rust refuses an 11th, in words). The
// files are read, checked and fitted together to the line's budget by Rust (`prepareImages`: the
// images already attached, then those added), so the tray shows what will be sent: each image
// with its size and its own Remove button, and the total against the budget in words.
import { createSignal, For, Show } from "solid-js";
import type { AttachedImages, Backend, ImageData } from "../backend";
import { messageOf } from "../backend";
import { fileToBase64, mimeOf } from "./format";
import { ClipIcon } from "./icons";

export type { AttachedImages };

export const NOTHING_ATTACHED: AttachedImages = { images: [], budget: 0 };

/** A size as a person reads it: "340 KB", "1.2 MB". */
export function sizeText(bytes: number): string {
  const mb = bytes / (1024 * 1024);
  return mb < 1 ? `${Math.max(1, Math.round(bytes / 1024))} KB` : `${mb.toFixed(1)} MB`;
}

/** "3 images · 1.2 MB of the 5 MB a message can carry". */
export function totalText(attached: AttachedImages): string {
  const count = attached.images.length;
  const total = attached.images.reduce((sum, i) => sum + i.bytes, 0);
  const budget = Math.round(attached.budget / (1024 * 1024));
  const what = `${count} ${count === 1 ? "image" : "images"} · ${sizeText(total)}`;
  return attached.budget > 0 ? `${what} of the ${budget} MB a message can carry` : what;
}

/** The set without its `index`th image (the others keep their order and their bytes). */
export function withoutImage(attached: AttachedImages, index: number): AttachedImages {
  return { ...attached, images: attached.images.filter((_, i) => i !== index) };
}

/** What drafts held before their images were saved apart: the set, or a single image. */
export type LegacyDraft = { attached?: AttachedImages; image?: ImageData | null };

/**
 * The images an older draft kept in its JSON (today's drafts keep only their count there): the
 * set as it was, or the single image drafts kept before several were possible (fitted again, so
 * that it gets its budget); `null` when it kept none that way.
 */
export async function legacyAttached(
  backend: Backend,
  draft: LegacyDraft,
): Promise<AttachedImages | null> {
  if (draft.attached?.images?.length) return draft.attached;
  if (draft.image) return backend.prepareImages([draft.image.data]);
  return null;
}

export function AttachButton(props: {
  backend: Backend;
  attached: AttachedImages;
  onAttached: (attached: AttachedImages) => void;
  onError: (message: string) => void;
}) {
  let file: HTMLInputElement | undefined;
  const [busy, setBusy] = createSignal(false);
  const attach = async (picked: File[]) => {
    if (picked.length === 0) return;
    props.onError("");
    setBusy(true);
    try {
      const added = await Promise.all(picked.map(fileToBase64));
      // The set may change while Rust fits it (an image removed, the message sent): the answer
      // is kept only for the set it was asked for, else fitted again over what is there now,
      // so a removed or sent image never comes back.
      let base = props.attached;
      for (;;) {
        const fitted = await props.backend.prepareImages([...base.images.map((i) => i.data), ...added]);
        if (props.attached === base) {
          props.onAttached(fitted);
          break;
        }
        base = props.attached;
      }
    } catch (e) {
      props.onError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button
        type="button"
        class="icon"
        aria-label={props.attached.images.length ? "Add images" : "Attach images"}
        aria-busy={busy()}
        disabled={busy()}
        onClick={() => file?.click()}
      >
        <ClipIcon />
      </button>
      <input
        ref={file}
        type="file"
        multiple
        accept="image/jpeg,image/png,image/gif"
        class="visually-hidden"
        // Never a Tab stop of its own (it is invisible): the button above opens it.
        tabIndex={-1}
        aria-label="Image files"
        onChange={(e) => {
          // Taken before the input is cleared, which empties its list.
          const picked = Array.from(e.currentTarget.files ?? []);
          e.currentTarget.value = "";
          void attach(picked);
        }}
      />
    </>
  );
}

export function AttachedImagesTray(props: {
  attached: AttachedImages;
  onRemove: (index: number) => void;
}) {
  let tray: HTMLDivElement | undefined;
  // The keyboard stays in the tray: focus moves to the Remove button now in the removed one's
  // place (or the one before it).
  const remove = (index: number) => {
    props.onRemove(index);
    queueMicrotask(() => {
      const buttons = tray?.querySelectorAll<HTMLButtonElement>("button") ?? [];
      buttons[Math.min(index, buttons.length - 1)]?.focus();
    });
  };
  return (
    <Show when={props.attached.images.length > 0}>
      <div class="attachments" role="group" aria-label="Attached images" ref={tray}>
        <ul class="attachment-list">
          <For each={props.attached.images}>
            {(img, i) => (
              <li class="attachment">
                <img
                  src={`data:${mimeOf(img.kind)};base64,${img.data}`}
                  alt={`Attached image ${i() + 1}`}
                />
                <span class="muted">
                  {img.width}×{img.height} · {sizeText(img.bytes)}
                  {img.resized ? " · scaled down to fit" : ""}
                </span>
                <button
                  type="button"
                  aria-label={`Remove image ${i() + 1}`}
                  onClick={() => remove(i())}
                >
                  Remove
                </button>
              </li>
            )}
          </For>
        </ul>
        <p class="muted" role="status" aria-label="Images attached">
          {totalText(props.attached)}
        </p>
      </div>
    </Show>
  );
}
