// The conversation list: newest activity first, one row per (line, number) thread with the
// contact (or number), the line's label and colour, a preview, the time and the unread count.
// Virtualised: only the rows in view (and a few around) exist in the DOM, so 10,000 threads
// scroll as lightly as 10.
import { createMemo, createSignal, For, Show } from "solid-js";
import type { ThreadId, ThreadView } from "../backend";
import { shortTime } from "../app/format";

export const ROW_HEIGHT = 64;
const OVERSCAN = 6;

export function ThreadList(props: {
  threads: ThreadView[];
  selected: ThreadId | null;
  compact: boolean;
  onOpen: (id: ThreadId) => void;
  onNearEnd: () => void;
}) {
  const [scrollTop, setScrollTop] = createSignal(0);
  const [height, setHeight] = createSignal(600);
  let box: HTMLDivElement | undefined;

  const range = createMemo(() => {
    const first = Math.max(0, Math.floor(scrollTop() / ROW_HEIGHT) - OVERSCAN);
    const count = Math.ceil(height() / ROW_HEIGHT) + 2 * OVERSCAN;
    return { first, last: Math.min(props.threads.length, first + count) };
  });
  const visible = createMemo(() => {
    const { first, last } = range();
    return props.threads.slice(first, last).map((t, i) => ({ t, index: first + i }));
  });

  const onScroll = () => {
    if (!box) return;
    setScrollTop(box.scrollTop);
    setHeight(box.clientHeight);
    if (box.scrollTop + box.clientHeight > box.scrollHeight - 10 * ROW_HEIGHT) props.onNearEnd();
  };

  // Arrow keys move between rows like a list box.
  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
    const at = props.threads.findIndex((t) => t.id === props.selected);
    const next = Math.min(props.threads.length - 1, Math.max(0, at + (e.key === "ArrowDown" ? 1 : -1)));
    const t = props.threads[next];
    if (t) {
      e.preventDefault();
      props.onOpen(t.id);
      if (box) {
        const top = next * ROW_HEIGHT;
        if (top < box.scrollTop) box.scrollTop = top;
        else if (top + ROW_HEIGHT > box.scrollTop + box.clientHeight)
          box.scrollTop = top + ROW_HEIGHT - box.clientHeight;
      }
    }
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
      role="list"
      aria-label="Conversation list"
    >
      <Show when={props.threads.length === 0}>
        <p class="empty">No conversations yet. Press “New message” to start one.</p>
      </Show>
      <div class="thread-list-spacer" style={{ height: `${props.threads.length * ROW_HEIGHT}px` }}>
        <For each={visible()}>
          {(row) => (
            <div
              role="listitem"
              class="thread-row-slot"
              style={{ transform: `translateY(${row.index * ROW_HEIGHT}px)` }}
            >
              <button
                class="thread-row"
                classList={{ selected: row.t.id === props.selected, unread: row.t.unread > 0 }}
                aria-label={`${row.t.display} via ${row.t.line.label}${
                  row.t.unread > 0 ? `, ${row.t.unread} unread` : ""
                }`}
                aria-current={row.t.id === props.selected ? "true" : undefined}
                data-thread-id={row.t.id}
                onClick={() => props.onOpen(row.t.id)}
              >
                <span class="avatar" style={{ "background-color": row.t.line.color }} aria-hidden="true">
                  {initials(row.t.display)}
                </span>
                <span class="thread-text">
                  <span class="thread-top">
                    <span class="thread-name">{row.t.display}</span>
                    <time class="thread-time" datetime={new Date(row.t.last_message_at).toISOString()}>
                      {shortTime(row.t.last_message_at)}
                    </time>
                  </span>
                  <span class="thread-bottom">
                    <span class="line-chip" style={{ "--line-color": row.t.line.color }}>
                      {row.t.line.label}
                    </span>
                    <Show when={!props.compact}>
                      <span class="thread-preview">{row.t.preview}</span>
                    </Show>
                    <Show when={row.t.unread > 0}>
                      <span class="unread-badge">{row.t.unread}</span>
                    </Show>
                  </span>
                </span>
              </button>
            </div>
          )}
        </For>
      </div>
    </div>
  );
}

/** "AL" for Ada Lovelace, "#" for a bare number. */
export function initials(display: string): string {
  if (/^[+\d]/.test(display)) return "#";
  const words = display.split(/\s+/).filter(Boolean);
  return ((words[0]?.[0] ?? "") + (words.length > 1 ? words[words.length - 1]?.[0] ?? "" : "")).toUpperCase();
}
