// The "Templates" button of the New message window and of the reply box, and the searchable list
// it opens (also opened by typing "/" into an empty message: `open`). The search field is a
// WAI-ARIA combobox: the arrows move in the list, Enter or a click inserts the template, Escape
// closes the list and gives the focus back to where it was opened from. Saved templates come
// from Rust each time the list opens; they are added and removed in Settings → Templates.
import { createSignal, For, Show } from "solid-js";
import type { Backend, SavedTemplate } from "../backend";
import { messageOf } from "../backend";
import { matchTemplates } from "./filter";

/** What the owner can do with the picker: open it from a keystroke in its message field. */
export type PickerHandle = { open: (from: HTMLElement | null) => void };

export function TemplatePicker(props: {
  backend: Backend;
  /** A prefix for the ids of the list's elements, unique in the page. */
  id: string;
  onPick: (template: SavedTemplate) => void;
  onError: (message: string) => void;
  handle?: (h: PickerHandle) => void;
}) {
  const [open, setOpen] = createSignal(false);
  const [all, setAll] = createSignal<SavedTemplate[]>([]);
  const [loaded, setLoaded] = createSignal(false);
  const [query, setQuery] = createSignal("");
  const [active, setActive] = createSignal(0);
  let button: HTMLButtonElement | undefined;
  let search: HTMLInputElement | undefined;
  let opener: HTMLElement | null = null;
  const shown = () => matchTemplates(all(), query());
  const listId = `${props.id}-templates`;

  const show = (from: HTMLElement | null) => {
    opener = from ?? button ?? null;
    setQuery("");
    setActive(0);
    setLoaded(false);
    setOpen(true);
    queueMicrotask(() => search?.focus());
    props.backend
      .templates()
      .then((t) => {
        setAll(t);
        setLoaded(true);
      })
      .catch((e) => {
        setOpen(false);
        props.onError(messageOf(e));
      });
  };
  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) (opener?.isConnected ? opener : button)?.focus();
  };
  const pick = (t: SavedTemplate | undefined) => {
    if (!t) return;
    close(true);
    props.onPick(t);
  };
  props.handle?.({ open: show });

  return (
    <div class="template-picker">
      <button
        type="button"
        ref={button}
        aria-haspopup="listbox"
        aria-expanded={open()}
        onClick={() => (open() ? close(true) : show(button ?? null))}
      >
        Templates
      </button>
      <Show when={open()}>
        <div
          class="template-popup"
          role="group"
          aria-label="Templates"
          onFocusOut={(e) => {
            const to = e.relatedTarget;
            if (!(to instanceof Node) || !e.currentTarget.contains(to)) {
              if (to !== button) close(false);
            }
          }}
        >
          <input
            ref={search}
            role="combobox"
            aria-label="Search templates"
            aria-expanded={shown().length > 0}
            aria-controls={listId}
            aria-autocomplete="list"
            aria-activedescendant={shown().length > 0 ? `${listId}-${active()}` : undefined}
            autocomplete="off"
            placeholder="Search templates"
            value={query()}
            onInput={(e) => {
              setQuery(e.currentTarget.value);
              setActive(0);
            }}
            onKeyDown={(e) => {
              const last = shown().length - 1;
              if (e.key === "ArrowDown") {
                e.preventDefault();
                setActive(Math.min(last, active() + 1));
              } else if (e.key === "ArrowUp") {
                e.preventDefault();
                setActive(Math.max(0, active() - 1));
              } else if (e.key === "Enter" && !e.ctrlKey && !e.metaKey) {
                e.preventDefault();
                e.stopPropagation();
                pick(shown()[active()]);
              } else if (e.key === "Escape") {
                e.preventDefault();
                e.stopPropagation();
                close(true);
              }
            }}
          />
          {/* Always there, so that the combobox's aria-controls finds it. */}
          <ul id={listId} class="template-list" role="listbox" aria-label="Saved templates" hidden={shown().length === 0}>
            <For each={shown()}>
              {(t, i) => (
                <li
                  id={`${listId}-${i()}`}
                  role="option"
                  aria-selected={i() === active()}
                  classList={{ active: i() === active() }}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    pick(t);
                  }}
                >
                  <span class="option-name">{t.name}</span>
                  <span class="muted template-text">{t.text}</span>
                </li>
              )}
            </For>
          </ul>
          <Show when={loaded() && shown().length === 0}>
            <p class="muted template-empty">
              {all().length === 0
                ? "No templates yet: add them in Settings, under Templates."
                : "No template matches."}
            </p>
          </Show>
        </div>
      </Show>
    </div>
  );
}
