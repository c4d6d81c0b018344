// The one way a text box keeps its draft: restored once from the store, saved whenever what
// `snapshot` reads or the set of images changes (debounced), removed when it is empty, flushed when
// the box goes away, and never written again once the message it belonged to was sent or
// discarded. While a message is on its way (`clearWith`), nothing is saved: the engine clears the
// draft with the send, and a save landing after it would bring the sent message back at the next
// start; a send that fails saves the box as it stands, so its draft is kept. The JSON holds the text
// (recipients, body, line) and only how many images there are; the images themselves go through
// `saveDraftImages`, and only when the set changed (an image added or removed), so a pause in
// typing never rewrites the photos.
import { createEffect, on, onCleanup } from "solid-js";
import type { AttachedImages, Backend, DraftKey } from "../backend";
import { messageOf } from "../backend";
import { legacyAttached, NOTHING_ATTACHED, type LegacyDraft } from "./attachment";
import { debounce } from "./format";

export function createDraft<T extends object>(
  backend: Backend,
  key: DraftKey,
  opts: {
    /** What is saved as JSON: the text, never the images. */
    snapshot: () => T;
    /** The draft's images; a new object whenever the set changes, the same one otherwise. */
    images: () => AttachedImages;
    isEmpty: (draft: T, images: AttachedImages) => boolean;
    restore: (draft: Partial<T>, images: AttachedImages) => void;
    onError: (message: string) => void;
  },
) {
  // Nothing is saved before the stored draft is back, so a slow load cannot be overwritten.
  let live = false;
  // The set the store holds: the images are written only when the box's set is another.
  let saved: AttachedImages | undefined;
  // An older draft had its images in its JSON: saved once the new way as soon as it is back.
  let rewrite = false;
  const report = (e: unknown) => opts.onError(messageOf(e));

  const loaded = Promise.all([
    backend.loadDraft(key),
    backend.draftImages(key).catch((e) => {
      report(e);
      return null;
    }),
  ])
    .then(async ([json, stored]) => {
      const draft = (json ? JSON.parse(json) : {}) as Partial<T> & LegacyDraft;
      const legacy = await legacyAttached(backend, draft).catch((e) => {
        report(e);
        return null;
      });
      const images = legacy ?? (stored?.images.length ? stored : NOTHING_ATTACHED);
      // When the images could not be read, the stored set is left alone until the user changes it.
      saved = legacy ? undefined : images;
      rewrite = legacy !== null;
      if (json || images.images.length > 0) opts.restore(draft, images);
    })
    .catch(report)
    .finally(() => {
      live = true;
      if (rewrite) save.flush();
    });

  // One write at a time, in order: a set of photos still on its way is never overtaken by the text
  // typed after it, nor by a removal.
  let queue: Promise<void> = Promise.resolve();
  const persist = async (draft: T, images: AttachedImages) => {
    if (!live) return;
    if (opts.isEmpty(draft, images)) {
      await backend.discardDraft(key);
      saved = images;
      return;
    }
    if (images !== saved) {
      try {
        await backend.saveDraftImages(
          key,
          images.images.map((i) => ({ data: i.data, resized: i.resized })),
        );
        saved = images;
      } catch (e) {
        report(e); // the text is saved all the same
      }
    }
    if (!live) return;
    await backend.saveDraft(key, JSON.stringify({ ...draft, images: images.images.length }));
  };
  // True while `clearWith` runs: from the moment Send is pressed until the engine answers.
  let sending = false;
  const save = debounce(() => {
    if (!live || sending) return;
    const draft = opts.snapshot();
    const images = opts.images();
    queue = queue.then(() => persist(draft, images)).catch(report);
  }, 300);
  createEffect(on([opts.snapshot, opts.images], () => save(), { defer: true }));
  onCleanup(() => save.flush());
  return {
    loaded,
    /** The draft is gone with its message: nothing more is saved. */
    finish() {
      live = false;
    },
    /** Runs `task` (a send or a discard, which clears the stored draft) once every write already
     * on its way has landed, saving nothing while it runs. If it fails, the box is saved as it
     * stands. */
    async clearWith<R>(task: () => Promise<R>): Promise<R> {
      sending = true;
      save.cancel();
      try {
        await queue;
        const result = await task();
        // The engine removed the draft, its images with it. What the box still holds (typed while
        // the send was on its way) is saved as a draft of its own, unless the box is finished.
        saved = NOTHING_ATTACHED;
        sending = false;
        save();
        return result;
      } catch (e) {
        sending = false;
        save.flush();
        throw e;
      }
    },
  };
}
