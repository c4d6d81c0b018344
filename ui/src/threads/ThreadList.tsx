// The conversation list: newest activity first, one row per (line, number) thread with the
// contact (or number), the line's label and colour, a preview, the time and the unread count.
// Virtualised: only the rows in view (and a few around) exist in the DOM, so 10,000 threads
// scroll as lightly as 10. A row is one button whose accessible name is its visible text, read in
// the order a person needs it ("Ada Lovelace via Sales, 2 unread, 10:32. Is it in stock?"); the
// list is one Tab stop (the open thread's row, else the first), and the arrow keys move in it.
import { createEffect, createMemo, createSignal, For, on, Show } from "solid-js";
import type { ThreadId, ThreadView } from "../backend";
import { shortTime } from "../app/format";

export const ROW_HEIGHT = 64;
const OVERSCAN = 6;

export function ThreadList(props: {
  threads: ThreadView[];
  selected: ThreadId | null;
  compact: boolean;
  /** What an empty list says (it depends on the view). */
  empty: string;
  onOpen: (id: ThreadId) => void;
  onNearEnd: () => void;
}) {
  const [scrollTop, setScrollTop] = createSignal(0);
  const [height, setHeight] = createSignal(600);
  let box: HTMLDivElement | undefined;

  // The rows on screen are the threads themselves, so that a scroll keeps every row still in view
  // (<For> keys by item) and draws only those that come in; the range changes once a row, not
  // once a pixel.
  const range = createMemo(
    () => {
      const first = Math.max(0, Math.floor(scrollTop() / ROW_HEIGHT) - OVERSCAN);
      const count = Math.ceil(height() / ROW_HEIGHT) + 2 * OVERSCAN;
      return { first, last: Math.min(props.threads.length, first + count) };
    },
    undefined,
    { equals: (a, b) => a.first === b.first && a.last === b.last },
  );
  const visible = createMemo(() => props.threads.slice(range().first, range().last));

  const onScroll = () => {
    if (!box) return;
    setScrollTop(box.scrollTop);
    setHeight(box.clientHeight);
    if (box.scrollTop + box.clientHeight > box.scrollHeight - 10 * ROW_HEIGHT) props.onNearEnd();
  };

  // The row that takes the Tab stop: the open thread's when it is in the list, else the first.
  const tabStop = createMemo(() =>
    props.threads.some((t) => t.id === props.selected) ? props.selected : (props.threads[0]?.id ?? null),
  );

  // The list draws its rows anew whenever it changes (a reload, an inbound message, a scroll):
  // the row that had the focus takes it back, so that the keyboard stays where it was. Only a
  // move to somewhere else forgets it (the focus falling to the page, as its row goes, does not).
  let focusedRow: ThreadId | null = null;
  const rowButton = (id: ThreadId) =>
    box?.querySelector<HTMLButtonElement>(`button[data-thread-id="${id}"]`) ?? null;
  createEffect(
    on(visible, () =>
      queueMicrotask(() => {
        const lost = document.activeElement === null || document.activeElement === document.body;
        if (focusedRow !== null && lost) rowButton(focusedRow)?.focus();
      }),
    ),
  );

  // The open thread's row is scrolled into view when the selection moves from elsewhere (J/K,
  // the jump box), so that its row exists to take the focus.
  createEffect(
    on(
      () => props.selected,
      (id) => {
        const at = props.threads.findIndex((t) => t.id === id);
        if (!box || at < 0) return;
        const top = at * ROW_HEIGHT;
        if (top < box.scrollTop) box.scrollTop = top;
        else if (top + ROW_HEIGHT > box.scrollTop + box.clientHeight) box.scrollTop = top + ROW_HEIGHT - box.clientHeight;
        setScrollTop(box.scrollTop);
      },
      { defer: true },
    ),
  );

  // Arrow keys (and Home, End) move between rows like a list box, opening each, and the focus
  // follows.
  const onKeyDown = (e: KeyboardEvent) => {
    const last = props.threads.length - 1;
    // From the focused row (the list may have changed under it), else from the Tab stop.
    const from = focusedRow ?? tabStop();
    const at = props.threads.findIndex((t) => t.id === from);
    const next =
      e.key === "ArrowDown" ? Math.min(last, at + 1)
      : e.key === "ArrowUp" ? Math.max(0, at - 1)
      : e.key === "Home" ? 0
      : e.key === "End" ? last
      : null;
    const t = next === null ? undefined : props.threads[next];
    if (next === null || !t) return;
    e.preventDefault();
    props.onOpen(t.id);
    if (box) {
      const top = next * ROW_HEIGHT;
      if (top < box.scrollTop) box.scrollTop = top;
      else if (top + ROW_HEIGHT > box.scrollTop + box.clientHeight)
        box.scrollTop = top + ROW_HEIGHT - box.clientHeight;
      setScrollTop(box.scrollTop);
    }
    focusedRow = t.id;
    queueMicrotask(() => rowButton(t.id)?.focus());
  };

  return (
    <div
      class="thread-list"
      ref={(el) => {
        box = el;
        queueMicrotask(() => setHeight(el.clientHeight || 600));
      }}
      onScroll={onScroll}
      onKeyDown={onKeyDown}
      onFocusIn={(e) => {
        const id = (e.target as HTMLElement).dataset.threadId;
        focusedRow = id ? Number(id) : null;
      }}
      onFocusOut={(e) => {
        if (e.relatedTarget && !box?.contains(e.relatedTarget as Node)) focusedRow = null;
      }}
      role="list"
      aria-label="Conversation list"
    >
      <Show when={props.threads.length === 0}>
        <p class="empty">{props.empty}</p>
      </Show>
      <div class="thread-list-spacer" style={{ height: `${props.threads.length * ROW_HEIGHT}px` }}>
        <For each={visible()}>
          {(t, i) => (
            <div
              role="listitem"
              class="thread-row-slot"
              style={{ transform: `translateY(${(range().first + i()) * ROW_HEIGHT}px)` }}
            >
              <button
                class="thread-row"
                classList={{ selected: t.id === props.selected, unread: t.unread > 0 }}
                aria-current={t.id === props.selected ? "true" : undefined}
                tabIndex={t.id === tabStop() ? 0 : -1}
                data-thread-id={t.id}
                onClick={() => props.onOpen(t.id)}
              >
                {/* The initials are drawn by CSS: decoration, not part of the row's text. */}
                <span
                  class="avatar"
                  style={{ "background-color": t.line.color, color: textOn(t.line.color) }}
                  data-initials={initials(t.display)}
                  aria-hidden="true"
                />
                {/* A grid: the text is in reading order, the places are the grid's. */}
                <span class="thread-text">
                  <span class="thread-name">{t.display}</span>
                  <span class="visually-hidden">{" via "}</span>
                  <span class="line-chip" style={{ "--line-color": t.line.color }}>
                    {t.line.label}
                  </span>
                  <Show when={t.unread > 0}>
                    <span class="unread-badge">
                      <span class="visually-hidden">{", "}</span>
                      {t.unread}
                      <span class="visually-hidden">{" unread"}</span>
                    </span>
                  </Show>
                  <span class="visually-hidden">{", "}</span>
                  <time class="thread-time" datetime={new Date(t.last_message_at).toISOString()}>
                    {shortTime(t.last_message_at)}
                  </time>
                  <Show when={!props.compact && t.preview}>
                    <span class="visually-hidden">{". "}</span>
                    <span class="thread-preview">{t.preview}</span>
                  </Show>
                </span>
              </button>
            </div>
          )}
        </For>
      </div>
    </div>
  );
}

/** Black or white, whichever reads better on `color` (a line's `#rrggbb`; white otherwise). */
export function textOn(color: string): string {
  const hex = /^#([0-9a-f]{6})$/i.exec(color)?.[1];
  if (!hex) return "#ffffff";
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
  // The contrast with white is 1.05 / (L + 0.05), with black (L + 0.05) / 0.05.
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? "#ffffff" : "#000000";
}

/** "AL" for Ada Lovelace, "#" for a bare number. */
export function initials(display: string): string {
  if (/^[+\d]/.test(display)) return "#";
  const words = display.split(/\s+/).filter(Boolean);
  return ((words[0]?.[0] ?? "") + (words.length > 1 ? words[words.length - 1]?.[0] ?? "" : "")).toUpperCase();
}
