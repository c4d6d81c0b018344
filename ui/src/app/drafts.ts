// The one way a text box keeps its draft: restored once from the store, saved whenever what
// `snapshot` reads changes (debounced), removed when it is empty, flushed when the box goes away, and never
// written again once the message it belonged to was sent or discarded.
import { createEffect, on, onCleanup } from "solid-js";
import type { Backend, DraftKey } from "../backend";
import { messageOf } from "../backend";
import { debounce } from "./format";

export function createDraft<T>(
  backend: Backend,
  key: DraftKey,
  opts: {
    snapshot: () => T;
    isEmpty: (draft: T) => boolean;
    restore: (draft: Partial<T>) => void;
    onError: (message: string) => void;
  },
) {
  // Nothing is saved before the stored draft is back, so a slow load cannot be overwritten.
  let live = false;
  const loaded = backend
    .loadDraft(key)
    .then((json) => {
      if (json) opts.restore(JSON.parse(json) as Partial<T>);
    })
    .catch((e) => opts.onError(messageOf(e)))
    .finally(() => {
      live = true;
    });
  const save = debounce(() => {
    if (!live) return;
    const draft = opts.snapshot();
    void (opts.isEmpty(draft) ? backend.discardDraft(key) : backend.saveDraft(key, JSON.stringify(draft))).catch(
      (e) => opts.onError(messageOf(e)),
    );
  }, 300);
  createEffect(on(opts.snapshot, () => save(), { defer: true }));
  onCleanup(() => save.flush());
  return {
    loaded,
    /** The draft is gone with its message: nothing more is saved. */
    finish() {
      live = false;
    },
  };
}
