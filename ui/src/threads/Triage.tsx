// Triage's controls: the Inbox / Snoozed / Done switch above the list, a conversation's actions
// (Mark done or Move to inbox, Mark unread, Snooze with a few ready-made times or a picked one),
// and the jump box (Ctrl+K) that finds a conversation by name or number. Every control's
// accessible name holds its visible text; Escape closes what opened and gives the focus back.
import { createSignal, For, onCleanup, onMount, Show } from "solid-js";
import type { ThreadId, ThreadView, View } from "../backend";
import { fullTime } from "../app/format";
import { jumpMatches, localInputValue, pickedTime, snoozeChoices } from "./triageRules";

const VIEWS: { view: View; label: string }[] = [
  { view: "inbox", label: "Inbox" },
  { view: "snoozed", label: "Snoozed" },
  { view: "done", label: "Done" },
];

/** The list's three views, one pressed: one Tab stop (the pressed one), the arrows move and
 * switch, as in a toolbar. */
export function ViewSwitch(props: { view: View; onChange: (view: View) => void }) {
  let bar: HTMLDivElement | undefined;
  const onKeyDown = (e: KeyboardEvent) => {
    const at = VIEWS.findIndex((v) => v.view === props.view);
    const next =
      e.key === "ArrowRight" ? Math.min(VIEWS.length - 1, at + 1)
      : e.key === "ArrowLeft" ? Math.max(0, at - 1)
      : e.key === "Home" ? 0
      : e.key === "End" ? VIEWS.length - 1
      : null;
    if (next === null) return;
    e.preventDefault();
    props.onChange(VIEWS[next]!.view);
    queueMicrotask(() => bar?.querySelectorAll<HTMLButtonElement>("button")[next]?.focus());
  };
  return (
    <div class="view-switch" role="toolbar" aria-label="Views" ref={bar} onKeyDown={onKeyDown}>
      <For each={VIEWS}>
        {(v) => (
          <button
            aria-pressed={props.view === v.view}
            tabIndex={props.view === v.view ? 0 : -1}
            onClick={() => props.onChange(v.view)}
          >
            {v.label}
          </button>
        )}
      </For>
    </div>
  );
}

/** What the list says when a view is empty. */
export function emptyText(view: View): string {
  switch (view) {
    case "inbox":
      return "No conversations yet. Press “New message” to start one.";
    case "snoozed":
      return "Nothing is snoozed.";
    case "done":
      return "Nothing is marked done yet. Press E on a conversation to mark it done.";
  }
}

export type TriageAction =
  | { kind: "done" }
  | { kind: "undone" }
  | { kind: "unread" }
  | { kind: "snooze"; until: number };

/** A conversation's triage buttons, in its header. */
export function TriageActions(props: { thread: ThreadView; onAction: (action: TriageAction) => void }) {
  const [snoozing, setSnoozing] = createSignal(false);
  const [picked, setPicked] = createSignal("");
  const [pickError, setPickError] = createSignal("");
  let snoozeButton: HTMLButtonElement | undefined;
  const closeSnooze = () => {
    setSnoozing(false);
    setPickError("");
    queueMicrotask(() => snoozeButton?.focus());
  };
  const choices = () => snoozeChoices(new Date());
  const snoozePicked = () => {
    const until = pickedTime(picked());
    if (until === null) return setPickError("Choose a day and a time.");
    if (until <= Date.now()) return setPickError("That time has passed: choose a later one.");
    setSnoozing(false);
    props.onAction({ kind: "snooze", until });
  };
  const away = () => props.thread.view !== "inbox";
  return (
    <div class="triage-actions">
      <Show when={props.thread.view === "snoozed" && props.thread.snoozed_until}>
        {(until) => <span class="muted snoozed-until">Snoozed until {fullTime(until())}</span>}
      </Show>
      <Show
        when={away()}
        fallback={
          <button title="Mark done (E): out of the inbox until a new message" onClick={() => props.onAction({ kind: "done" })}>
            Mark done
          </button>
        }
      >
        <button onClick={() => props.onAction({ kind: "undone" })}>Move to inbox</button>
      </Show>
      <button title="Mark unread (U)" onClick={() => props.onAction({ kind: "unread" })}>
        Mark unread
      </button>
      <div class="snooze">
        <button
          ref={snoozeButton}
          aria-expanded={snoozing()}
          aria-controls={snoozing() ? "snooze-choices" : undefined}
          onClick={() => (snoozing() ? closeSnooze() : setSnoozing(true))}
        >
          Snooze
        </button>
        <Show when={snoozing()}>
          <div
            id="snooze-choices"
            class="snooze-choices"
            role="group"
            aria-label="Snooze until"
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.stopPropagation();
                closeSnooze();
              }
            }}
          >
            <For each={choices()}>
              {(c, i) => (
                <button
                  ref={(el) => i() === 0 && queueMicrotask(() => el.focus())}
                  onClick={() => {
                    setSnoozing(false);
                    props.onAction({ kind: "snooze", until: c.until });
                  }}
                >
                  {c.label}
                </button>
              )}
            </For>
            <label class="snooze-pick">
              Pick a time
              <input
                type="datetime-local"
                min={localInputValue(Date.now())}
                value={picked()}
                onInput={(e) => {
                  setPicked(e.currentTarget.value);
                  setPickError("");
                }}
                onKeyDown={(e) => e.key === "Enter" && snoozePicked()}
              />
            </label>
            <button onClick={snoozePicked}>Snooze until then</button>
            <Show when={pickError()}>
              <p class="error" role="alert">
                {pickError()}
              </p>
            </Show>
          </div>
        </Show>
      </div>
    </div>
  );
}

/** Ctrl+K: a conversation by name or number. `find` answers the matches for a text. */
export function JumpBox(props: {
  find: (query: string) => Promise<ThreadView[]>;
  onOpen: (id: ThreadId) => void;
  onClose: () => void;
}) {
  const [query, setQuery] = createSignal("");
  const [found, setFound] = createSignal<ThreadView[]>([]);
  const [active, setActive] = createSignal(0);
  let asked = 0;
  const search = async (q: string) => {
    const mine = ++asked;
    const rows = q.trim() ? await props.find(q) : [];
    if (mine === asked) {
      setFound(rows);
      setActive(0);
    }
  };
  const choose = (t: ThreadView | undefined) => {
    if (t) props.onOpen(t.id);
  };
  let input: HTMLInputElement | undefined;
  onMount(() => queueMicrotask(() => input?.focus()));
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      props.onClose();
    }
  };
  window.addEventListener("keydown", onKey, true);
  onCleanup(() => window.removeEventListener("keydown", onKey, true));
  const where = (t: ThreadView) =>
    t.view === "done" ? ", done" : t.view === "snoozed" ? ", snoozed" : "";
  return (
    <div class="dialog-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="dialog jump-box" role="dialog" aria-modal="true" aria-label="Go to conversation">
        <header class="dialog-header">
          <h2>Go to conversation</h2>
          <button class="icon" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>
        <input
          ref={input}
          role="combobox"
          aria-label="Name or number"
          aria-expanded={found().length > 0}
          aria-controls="jump-results"
          aria-autocomplete="list"
          aria-activedescendant={found().length > 0 ? `jump-result-${active()}` : undefined}
          autocomplete="off"
          placeholder="Name or number"
          value={query()}
          onInput={(e) => {
            setQuery(e.currentTarget.value);
            void search(e.currentTarget.value);
          }}
          onKeyDown={(e) => {
            if (e.key === "ArrowDown") {
              e.preventDefault();
              setActive(Math.min(found().length - 1, active() + 1));
            } else if (e.key === "ArrowUp") {
              e.preventDefault();
              setActive(Math.max(0, active() - 1));
            } else if (e.key === "Enter") {
              e.preventDefault();
              choose(found()[active()]);
            }
          }}
        />
        <ul id="jump-results" class="jump-results" role="listbox" aria-label="Matching conversations" hidden={found().length === 0}>
          <For each={found()}>
            {(t, i) => (
              <li
                id={`jump-result-${i()}`}
                role="option"
                aria-label={`${t.display}, ${t.line.label}${where(t)}`}
                aria-selected={i() === active()}
                classList={{ active: i() === active() }}
                onMouseDown={(e) => {
                  e.preventDefault();
                  choose(t);
                }}
              >
                <span class="option-name">{t.display}</span>
                <span class="muted">
                  {t.display === t.counterpart_display ? "" : `${t.counterpart_display} · `}
                  {t.line.label}
                  {where(t)}
                </span>
              </li>
            )}
          </For>
        </ul>
        <Show when={query().trim() && found().length === 0}>
          <p class="muted">No conversation matches.</p>
        </Show>
      </div>
    </div>
  );
}

/** The jump box's matches: the loaded rows by name or number, then the conversations of the
 * contacts whose name the search finds, each once. */
export function mergeJump(loaded: ThreadView[], named: ThreadView[], query: string, max = 8): ThreadView[] {
  const local = jumpMatches(loaded, query, max);
  const ids = new Set(local.map((t) => t.id));
  return [...local, ...named.filter((t) => !ids.has(t.id) && (ids.add(t.id), true))].slice(0, max);
}
