// The application frame: the conversation list (with line filter and search) beside the open
// conversation, the New message window, contacts and settings, the offline banner, and the
// receptionist's pin, and triage (the Inbox / Snoozed / Done views, a conversation's Mark done,
// Mark unread and Snooze, the J/K/E/U keys and the Ctrl+K jump box). State comes from Rust
// through the Backend; Rust's events keep it fresh.
// Whatever opens over the page (New message, contacts, settings, the default-line offer) gives
// the focus back, when it closes, to what had it before: the keyboard never falls to the page's
// start.
import { createMemo, createSignal, For, Match, onCleanup, onMount, Show, Switch } from "solid-js";
import type {
  AppStatus, Backend, ContactId, Line, LineId, LineUnread, MessageId, ScheduleReceipt, SearchGroup,
  SendReceipt, ThreadId, ThreadView, View,
} from "../backend";
import { messageOf } from "../backend";
import { debounce, fullTime, newestWins, shortTime } from "./format";
import { keepUnchanged } from "../threads/rows";
import { ThreadList } from "../threads/ThreadList";
import { Conversation } from "../threads/Conversation";
import { Composer } from "../composer/Composer";
import { Contacts } from "../contacts/Contacts";
import { Settings } from "../settings/Settings";
import { Scheduled } from "../outbox/Scheduled";
import { PinIcon } from "./icons";
import { emptyText, JumpBox, mergeJump, type TriageAction, ViewSwitch } from "../threads/Triage";
import { isTyping, moveFrom, nextAfter } from "../threads/triageRules";

const FIRST_PAGE = 200;
const PAGE = 500;

type Panel = "none" | "contacts" | "settings" | "scheduled";
type Offer = { contact: ContactId; name: string; line: Line };

export function App(props: { backend: Backend }) {
  const b = props.backend;
  const [status, setStatus] = createSignal<AppStatus | null>(null);
  const [lines, setLines] = createSignal<Line[]>([]);
  const [threads, setThreads] = createSignal<ThreadView[]>([]);
  const [complete, setComplete] = createSignal(false);
  const [filter, setFilter] = createSignal<LineId | null>(null);
  const [view, setView] = createSignal<View>("inbox");
  const [unread, setUnread] = createSignal<LineUnread[]>([]);
  const [jumping, setJumping] = createSignal(false);
  const [query, setQuery] = createSignal("");
  const [results, setResults] = createSignal<SearchGroup[] | null>(null);
  const [selected, setSelected] = createSignal<ThreadId | null>(null);
  const [version, setVersion] = createSignal(0);
  // The open thread's messages that events changed, until the conversation asks for them.
  let touched: MessageId[] | "all" = [];
  const takeTouched = () => {
    const ids = touched;
    touched = [];
    return ids;
  };
  const [panel, setPanel] = createSignal<Panel>("none");
  const [composing, setComposing] = createSignal(false);
  const [offer, setOffer] = createSignal<Offer | null>(null);
  // What a send or a schedule did that is worth a sentence: who a fan-out left out (they opted
  // out of its line), when scheduled messages go.
  const [notice, setNotice] = createSignal("");
  const [error, setError] = createSignal("");
  const [width, setWidth] = createSignal(window.innerWidth);

  // Where the focus goes back to when what opened over the page closes.
  let composerOpener: HTMLElement | null = null;
  let panelOpener: HTMLElement | null = null;
  let offerOpener: HTMLElement | null = null;
  let newMessageButton: HTMLButtonElement | undefined;
  const focused = () => (document.activeElement instanceof HTMLElement ? document.activeElement : null);
  /** Focuses `el` once what closed is out of the DOM, or `fallback` if `el` went with it. A
   *  microtask, not an animation frame: WebKit may hold frames back while the window is hidden. */
  const refocus = (el: HTMLElement | null, fallback?: HTMLElement) =>
    queueMicrotask(() => (el?.isConnected ? el : fallback)?.focus());

  const openComposer = () => {
    if (composing()) return;
    composerOpener = focused();
    setComposing(true);
  };
  const closeComposer = () => {
    setComposing(false);
    refocus(composerOpener, newMessageButton);
  };
  const openPanel = (which: Panel) => {
    if (panel() === "none") panelOpener = focused();
    setPanel(which);
  };
  const closePanel = () => {
    setPanel("none");
    refocus(panelOpener, newMessageButton);
  };
  const closeOffer = () => {
    setOffer(null);
    refocus(offerOpener, newMessageButton);
  };

  const pinned = () => status()?.pinned ?? false;
  const compact = createMemo(() => width() < 760 || (pinned() && width() < 900));

  const guard = async <T,>(f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (e) {
      setError(messageOf(e));
      return undefined;
    }
  };

  const loadStatus = async () => setStatus((await guard(() => b.status())) ?? status());
  // An inbound message's status read: one at a time, the newest ask winning, so that a burst of
  // 200 costs a few reads, not 200.
  const statusSoon = newestWins(loadStatus, () => undefined, () => undefined);
  const loadLines = async () => setLines((await guard(() => b.lines())) ?? lines());

  let rowsDrawnOn = new Date().toDateString();
  /** The newest page again, keeping older rows already loaded below it. */
  const reloadThreads = async () => {
    const shown = view();
    const [first, counts] = await Promise.all([
      guard(() => b.threads(shown, filter(), FIRST_PAGE, null)),
      guard(() => b.unreadByLine()),
    ]);
    if (counts) setUnread(counts);
    // A switch of view meanwhile: its own reload draws the list.
    if (!first || shown !== view()) return;
    const oldest = first[first.length - 1];
    const ids = new Set(first.map((t) => t.id));
    const older = oldest
      ? threads().filter((t) => !ids.has(t.id) && t.listed_at < oldest.listed_at)
      : [];
    // Rows are kept only within a day: their times ("14:05", "Mon") are drawn against today.
    const today = new Date().toDateString();
    const fresh = [...first, ...older];
    setThreads(today === rowsDrawnOn ? keepUnchanged(threads(), fresh) : fresh);
    rowsDrawnOn = today;
    if (first.length < FIRST_PAGE) setComplete(true);
  };
  const reloadSoon = debounce(() => void reloadThreads(), 120);

  let loadingMore = false;
  const loadMore = async () => {
    const last = threads()[threads().length - 1];
    if (complete() || loadingMore || !last) return;
    loadingMore = true;
    const more = await guard(() =>
      b.threads(view(), filter(), PAGE, { listed_at: last.listed_at, id: last.id }),
    );
    loadingMore = false;
    if (!more) return;
    setThreads([...threads(), ...more]);
    if (more.length < PAGE) setComplete(true);
  };

  const setLineFilter = (line: LineId | null) => {
    setFilter(line);
    setThreads([]);
    setComplete(false);
    void reloadThreads();
  };
  const switchView = (next: View) => {
    if (next === view()) return;
    setView(next);
    setQuery("");
    setResults(null);
    setThreads([]);
    setComplete(false);
    void reloadThreads();
  };
  const unreadOf = (line: LineId | null) =>
    unread().reduce((n, u) => (line === null || u.line === line ? n + Number(u.unread) : n), 0);
  const withUnread = (label: string, n: number) => (n > 0 ? `${label} (${n} unread)` : label);

  /** The row button of `id` in the list, if drawn. */
  const rowOf = (id: ThreadId | null) =>
    id === null ? null : document.querySelector<HTMLButtonElement>(`.thread-list button[data-thread-id="${id}"]`);
  /** The conversation the keys act on: the open one, else the list's focused row. */
  const current = (): ThreadId | null => {
    if (selected() !== null) return selected();
    const id = (document.activeElement as HTMLElement | null)?.dataset?.threadId;
    return id ? Number(id) : null;
  };
  /** Done, back to the inbox, unread or snoozed: the conversation closes (it leaves this view,
   * or, unread, must not be read again at once), and the focus goes to its row, or to the next
   * one when it left the list. */
  const triage = async (id: ThreadId, action: TriageAction) => {
    const rows = threads();
    const changed = await guard(() => {
      switch (action.kind) {
        case "done":
          return b.markDone(id);
        case "undone":
          return b.markUndone(id);
        case "unread":
          return b.markUnread(id);
        case "snooze":
          return b.snooze(id, action.until);
      }
    });
    if (!changed) return;
    const stays = changed.view === view();
    if (selected() === id) {
      touched = [];
      setSelected(null);
      void guard(() => b.viewThread(null));
    }
    const focusOn = stays ? id : nextAfter(rows, id);
    setThreads(stays ? rows.map((t) => (t.id === id ? changed : t)) : rows.filter((t) => t.id !== id));
    await reloadThreads();
    queueMicrotask(() => (rowOf(focusOn) ?? rowOf(threads()[0]?.id ?? null) ?? newMessageButton)?.focus());
  };
  const findForJump = async (q: string) => {
    const groups = (await guard(() => b.search(q))) ?? [];
    return mergeJump(threads(), groups.filter((g) => g.name_match).map((g) => g.thread), q);
  };
  let jumpOpener: HTMLElement | null = null;
  const openJump = () => {
    if (jumping()) return;
    jumpOpener = focused();
    setJumping(true);
  };
  const closeJump = (opened?: ThreadId) => {
    setJumping(false);
    if (opened === undefined) refocus(jumpOpener, newMessageButton);
  };

  // At every keystroke, one search at a time, the newest text winning (as the composer's counter
  // does): no pause to wait out, and never an older text's results after a newer one's.
  const runSearch = newestWins(
    async () => {
      const q = query();
      return { q, found: q.trim() ? ((await guard(() => b.search(q))) ?? []) : null };
    },
    ({ q, found }) => {
      if (q === query()) setResults(found);
    },
    () => undefined,
  );

  const open = (id: ThreadId | null) => {
    if (id !== selected()) touched = [];
    setSelected(id);
    setPanel("none");
    void guard(() => b.viewThread(id)).then(async () => {
      if (id === null) return;
      setThreads(threads().map((t) => (t.id === id ? { ...t, unread: 0 } : t)));
      // The line filter's counts, now that it is read.
      const counts = await guard(() => b.unreadByLine());
      if (counts) setUnread(counts);
    });
  };

  const afterSend = (receipt: SendReceipt) => {
    closeComposer();
    setQuery("");
    setResults(null);
    void reloadThreads();
    if (receipt.left_out.length > 0) {
      const names = receipt.left_out.map((o) => o.display).join(", ");
      setNotice(
        `Sent to ${receipt.sent.length}. Not sent to ${names}: opted out of ${receipt.line.label} (replied STOP).`,
      );
    }
    const only = receipt.sent.length === 1 ? receipt.sent[0] : undefined;
    if (only) open(only.thread_id);
    if (receipt.offer_default !== null && only) {
      offerOpener = composerOpener;
      setOffer({ contact: receipt.offer_default, name: only.recipient.display, line: receipt.line });
    }
  };

  const afterSchedule = (receipt: ScheduleReceipt) => {
    closeComposer();
    const to = receipt.scheduled.map((s) => s.recipient.display);
    const who = to.length === 1 ? to[0] : `${to.length} people`;
    const left = receipt.left_out.length
      ? ` Not to ${receipt.left_out.map((o) => o.display).join(", ")}: opted out of ${receipt.line.label}.`
      : "";
    setNotice(`Scheduled for ${fullTime(receipt.send_at)} to ${who} from ${receipt.line.label}.${left}`);
    void loadStatus();
  };

  const togglePin = async () => {
    const next = !pinned();
    const done = await guard(() => b.setPinned(next));
    if (done !== undefined) setStatus((s) => (s ? { ...s, pinned: next } : s));
  };

  onMount(async () => {
    const onResize = () => setWidth(window.innerWidth);
    window.addEventListener("resize", onResize);
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "n") {
        e.preventDefault();
        openComposer();
      } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        if (!composing()) openJump();
      } else if (
        !e.ctrlKey && !e.metaKey && !e.altKey && !e.defaultPrevented && !composing() && !jumping() &&
        !isTyping(e.target) && ["j", "k", "e", "u"].includes(e.key.toLowerCase())
      ) {
        // Triage keys: never while typing, nor over New message or the jump box.
        const key = e.key.toLowerCase();
        const id = current();
        e.preventDefault();
        if (key === "j" || key === "k") {
          const next = moveFrom(threads(), id, key === "j" ? 1 : -1);
          if (next !== null) {
            open(next);
            queueMicrotask(() => rowOf(next)?.focus());
          }
        } else if (id !== null) {
          void triage(id, { kind: key === "e" ? "done" : "unread" });
        }
      } else if (e.key === "Escape" && !e.defaultPrevented && panel() !== "none" && !composing()) {
        // Wherever the focus is (the button that opened the panel, often): what is over the
        // page (New message, the viewer, a menu) stops its own Escape before it gets here.
        closePanel();
      }
    };
    window.addEventListener("keydown", onKey);
    onCleanup(() => {
      window.removeEventListener("resize", onResize);
      window.removeEventListener("keydown", onKey);
    });

    const unlisten = await Promise.all([
      b.onEngineEvent((e) => {
        switch (e.kind) {
          case "message_status":
          case "message_media":
          case "inbound_message":
            reloadSoon();
            if (e.thread_id === selected()) {
              if (e.kind !== "inbound_message" && touched !== "all") touched.push(e.message_id);
              setVersion(version() + 1);
            }
            if (e.kind === "inbound_message") void statusSoon();
            break;
          case "connectivity":
            setStatus((s) => (s ? { ...s, online: e.online } : s));
            break;
          case "outbox_count":
            setStatus((s) => (s ? { ...s, pending: e.pending } : s));
            break;
          case "history_imported":
            // A first sync's history, recorded as read: one reload, no notification each. It
            // may land in the conversation on screen (a message sent elsewhere, the carrier's
            // answer to a STOP), which is read again.
            reloadSoon();
            void loadStatus();
            if (selected() !== null) {
              touched = "all";
              setVersion(version() + 1);
            }
            break;
          case "scheduled_late":
            void loadStatus();
            break;
          case "lines_changed":
            void loadLines();
            reloadSoon();
            break;
          case "snooze_ended":
            // Back on top of the inbox, unread.
            reloadSoon();
            void statusSoon();
            break;
        }
      }),
      b.onAppEvent((e) => {
        switch (e.kind) {
          case "open_thread":
            open(e.thread_id);
            break;
          case "new_message":
            openComposer();
            break;
          case "pinned":
            setStatus((s) => (s ? { ...s, pinned: e.pinned } : s));
            break;
          case "carrier_ready":
            void loadStatus();
            void loadLines();
            void reloadThreads();
            break;
          case "reload":
            // The shell missed some of the engine's events: everything shown is read again.
            void loadStatus();
            void loadLines();
            void reloadThreads();
            touched = "all";
            setVersion(version() + 1);
            break;
        }
      }),
    ]);
    onCleanup(() => unlisten.forEach((u) => u()));

    await Promise.all([loadStatus(), loadLines(), reloadThreads()]);
    // Once painted, the shell logs how long the start took.
    requestAnimationFrame(() => requestAnimationFrame(() => void b.uiReady(performance.now()).catch(() => undefined)));
    // An unsent message from last time is put back in front of its writer.
    if (await guard(() => b.loadDraft("Composer"))) openComposer();
  });

  const banner = () => {
    const s = status();
    if (!s) return "";
    if (s.problem) return s.problem.message;
    if (s.online === false) {
      return s.pending > 0
        ? `Offline — ${s.pending} ${s.pending === 1 ? "message" : "messages"} will be sent when you're back online`
        : "Offline — messages you write will be sent when you're back online";
    }
    return "";
  };

  const showList = () => !compact() || width() >= 520 || selected() === null;
  const showPane = () => !compact() || width() >= 520 || selected() !== null || panel() !== "none";

  return (
    <div class="app" classList={{ compact: compact(), pinned: pinned() }}>
      <Show when={showList()}>
        <aside class="sidebar" aria-label="Conversations">
          <h1 class="visually-hidden">Switchboard</h1>
          <div class="toolbar">
            <button
              class="primary new-message"
              ref={newMessageButton}
              onClick={openComposer}
              title="New message (Ctrl+N)"
            >
              New message
            </button>
            <button
              class="icon pin"
              aria-label="Pin on top"
              aria-pressed={pinned()}
              title={pinned() ? "Unpin the window" : "Keep the window on top of others"}
              onClick={() => void togglePin()}
            >
              <PinIcon />
            </button>
          </div>
          <div class="filters">
            <input
              type="search"
              aria-label="Search messages and contacts"
              placeholder="Search"
              value={query()}
              onInput={(e) => {
                setQuery(e.currentTarget.value);
                // An emptied box gives the list back at once, not after the search in flight.
                if (!e.currentTarget.value.trim()) setResults(null);
                void runSearch();
              }}
            />
            <Show when={lines().length > 1}>
              <select
                aria-label="Show line"
                value={filter() ?? ""}
                onChange={(e) => setLineFilter(e.currentTarget.value ? Number(e.currentTarget.value) : null)}
              >
                <option value="">{withUnread("All lines", unreadOf(null))}</option>
                <For each={lines()}>{(l) => <option value={l.id}>{withUnread(l.label, unreadOf(l.id))}</option>}</For>
              </select>
            </Show>
          </div>
          <ViewSwitch view={view()} onChange={switchView} />
          <Show when={banner()}>
            <p class="banner" role="status">
              {banner()}
            </p>
          </Show>
          <Show when={(status()?.late ?? 0) > 0}>
            <div class="banner late-banner" role="status">
              <p>
                {status()!.late === 1 ? "A scheduled message was" : `${status()!.late} scheduled messages were`} due
                while Switchboard was closed or asleep: it waits for you.
              </p>
              <button
                onClick={() => void guard(() => b.sendScheduledNow(null)).then(() => void loadStatus())}
              >
                Send now
              </button>
              <button onClick={() => openPanel("scheduled")}>Review</button>
            </div>
          </Show>
          <Switch>
            <Match when={results()}>
              {(groups) => <SearchResults groups={groups()} onOpen={open} />}
            </Match>
            <Match when={true}>
              <ThreadList
                threads={threads()}
                selected={selected()}
                compact={compact()}
                empty={emptyText(view())}
                onOpen={open}
                onNearEnd={() => void loadMore()}
              />
            </Match>
          </Switch>
          <nav class="sidebar-footer" aria-label="Sections">
            <button onClick={() => openPanel("contacts")}>Contacts</button>
            <button onClick={() => openPanel("scheduled")}>Scheduled</button>
            <button onClick={() => openPanel("settings")}>Settings</button>
          </nav>
        </aside>
      </Show>
      <Show when={showPane()}>
        <main class="pane">
          <Show when={!showList()}>
            <h1 class="visually-hidden">Switchboard</h1>
          </Show>
          <Switch>
            <Match when={panel() === "contacts"}>
              <Contacts
                backend={b}
                lines={lines().filter((l) => l.in_account && l.sms)}
                onClose={closePanel}
                onChanged={() => void reloadThreads()}
              />
            </Match>
            <Match when={panel() === "scheduled"}>
              <Scheduled backend={b} onClose={closePanel} onChanged={() => void loadStatus()} />
            </Match>
            <Match when={panel() === "settings"}>
              <Settings
                backend={b}
                lines={lines()}
                online={status()?.online ?? null}
                onClose={closePanel}
                onLinesChanged={() => {
                  void loadLines();
                  void reloadThreads();
                }}
              />
            </Match>
            <Match when={selected()} keyed>
              {(id) => (
                <Conversation
                  backend={b}
                  thread={id}
                  version={version()}
                  takeTouched={takeTouched}
                  compact={compact()}
                  onBack={() => open(null)}
                  onChanged={() => void reloadThreads()}
                  onTriage={(action) => void triage(id, action)}
                />
              )}
            </Match>
            <Match when={true}>
              <div class="placeholder">
                <p class="placeholder-title">Switchboard</p>
                <p class="muted">Pick a conversation, or press New message (Ctrl+N).</p>
              </div>
            </Match>
          </Switch>
        </main>
      </Show>
      <Show when={offer()}>
        {(o) => (
          <div
            class="toast"
            role="alertdialog"
            aria-label="Default line"
            aria-describedby="offer-question"
            onKeyDown={(e) => {
              if (e.key === "Escape") {
                e.stopPropagation();
                closeOffer();
              }
            }}
          >
            <p id="offer-question">
              Always send to {o().name} from {o().line.label}?
            </p>
            <button
              class="primary"
              ref={(el) => queueMicrotask(() => el.focus())}
              onClick={() => {
                void guard(() => b.setDefaultLine(o().contact, o().line.id));
                closeOffer();
              }}
            >
              Make {o().line.label} the default
            </button>
            <button onClick={closeOffer}>Not now</button>
          </div>
        )}
      </Show>
      <Show when={notice()}>
        <div class="toast" role="status">
          <p>{notice()}</p>
          <button aria-label="Dismiss" onClick={() => setNotice("")}>
            ✕
          </button>
        </div>
      </Show>
      <Show when={error()}>
        <div class="toast error-toast" role="alert">
          <p>{error()}</p>
          <button aria-label="Dismiss" onClick={() => setError("")}>
            ✕
          </button>
        </div>
      </Show>
      <Show when={jumping()}>
        <JumpBox
          find={findForJump}
          onOpen={(id) => {
            closeJump(id);
            open(id);
            queueMicrotask(() => (rowOf(id) ?? document.querySelector<HTMLElement>(".messages"))?.focus());
          }}
          onClose={() => closeJump()}
        />
      </Show>
      <Show when={composing()}>
        <Composer backend={b} lines={lines().filter((l) => l.in_account && l.sms)} onClose={closeComposer} onSent={afterSend} onScheduled={afterSchedule} />
      </Show>
    </div>
  );
}

function SearchResults(props: { groups: SearchGroup[]; onOpen: (id: ThreadId) => void }) {
  return (
    <div class="search-results" role="list" aria-label="Search results">
      <Show when={props.groups.length === 0}>
        <p class="empty">Nothing found.</p>
      </Show>
      <For each={props.groups}>
        {(g) => (
          <div role="listitem" class="search-group">
            <button class="search-thread" onClick={() => props.onOpen(g.thread.id)}>
              <span class="option-name">{g.thread.display}</span>
              <span class="visually-hidden">{" via "}</span>
              <span class="line-chip" style={{ "--line-color": g.thread.line.color }}>
                {g.thread.line.label}
              </span>
            </button>
            <For each={g.hits}>
              {(h) => (
                <button class="search-hit" onClick={() => props.onOpen(g.thread.id)}>
                  <span>{h.snippet}</span>
                  <time class="muted">{shortTime(h.created_at)}</time>
                </button>
              )}
            </For>
          </div>
        )}
      </For>
    </div>
  );
}
