// Attaching an image, the same in the New message window and in a reply box: the file is read,
// checked and (when over the line's budget) scaled by Rust, and what will be sent is shown.
import { Show } from "solid-js";
import type { Backend, ImageData } from "../backend";
import { messageOf } from "../backend";
import { fileToBase64, mimeOf } from "./format";
import { ClipIcon } from "./icons";

export function AttachButton(props: {
  backend: Backend;
  onAttached: (image: ImageData) => void;
  onError: (message: string) => void;
}) {
  let file: HTMLInputElement | undefined;
  const attach = async (picked: File | undefined) => {
    if (!picked) return;
    props.onError("");
    try {
      props.onAttached(await props.backend.prepareImage(await fileToBase64(picked)));
    } catch (e) {
      props.onError(messageOf(e));
    }
  };
  return (
    <>
      <button type="button" class="icon" aria-label="Attach image" onClick={() => file?.click()}>
        <ClipIcon />
      </button>
      <input
        ref={file}
        type="file"
        accept="image/jpeg,image/png,image/gif"
        class="visually-hidden"
        aria-label="Image file"
        onChange={(e) => {
          void attach(e.currentTarget.files?.[0]);
          e.currentTarget.value = "";
        }}
      />
    </>
  );
}

export function AttachedImage(props: { image: ImageData | null; onRemove: () => void }) {
  return (
    <Show when={props.image}>
      {(img) => (
        <div class="attachment">
          <img src={`data:${mimeOf(img().kind)};base64,${img().data}`} alt="Attached image" />
          <span class="muted">
            {img().width}×{img().height} · {Math.round(img().bytes / 1024)} KB
            {img().resized ? " · scaled down to fit the line's limit" : ""}
          </span>
          <button type="button" onClick={props.onRemove}>
            Remove image
          </button>
        </div>
      )}
    </Show>
  );
}
