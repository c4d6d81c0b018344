// The New message window. Recipients are found by name or number and become chips (1 to 20);
// the counter shows characters, encoding and segments as Rust counts them; up to 10 images are
// checked and, if too large together, scaled by Rust before they are shown. The send button follows DESIGN.md's
// table, decided in Rust (`preview`): "Send from Sales" for a shared default; otherwise the first
// Send opens the line list and sends nothing, the chosen line is highlighted and shown on the
// button, and a second Send sends. The line button changes the line at any time (click or
// hover). Everything typed is kept as a draft.
//
// The keyboard does all of it: the To field is a WAI-ARIA combobox (the arrows move in its
// suggestions, Enter takes one, Escape closes them); the line list takes the focus when Send or
// the line button opens it (the arrows pick, Enter goes back to Send, Escape closes it); Tab stays
// inside the window, and Escape closes it.
//
// Templates: the "Templates" button, or "/" typed into an empty message, opens the searchable
// list of saved templates (TemplatePicker); the one picked becomes the message, marked as a
// template, which Rust fills for each recipient. The window then shows the text the first
// recipient gets, and in words any recipient who lacks a value; Send is refused while one does.
import { createEffect, createSignal, For, on, onMount, Show } from "solid-js";
import type {
  Backend, ContactView, Line, LineId, Preview, Recipient, ScheduleReceipt, SendReceipt,
} from "../backend";
import { messageOf } from "../backend";
import { debounce, localInput, newestWins } from "../app/format";
import { createDraft } from "../app/drafts";
import {
  AttachButton, AttachedImagesTray, NOTHING_ATTACHED, withoutImage,
  type AttachedImages,
} from "../app/attachment";
import { TemplatePicker, type PickerHandle } from "../templates/TemplatePicker";

export const MAX_RECIPIENTS = 20;
const COMPOSER = "Composer" as const;

type ComposerDraft = {
  recipients: Recipient[];
  body: string;
  line: LineId | null;
  /** The body is a template, filled per recipient. */
  template?: boolean;
};

type Option = { contact: ContactView | null; number: string; label: string; detail: string };

export function Composer(props: {
  backend: Backend;
  lines: Line[];
  onClose: () => void;
  onSent: (receipt: SendReceipt) => void;
  onScheduled: (receipt: ScheduleReceipt) => void;
}) {
  const b = props.backend;
  const [chips, setChips] = createSignal<Recipient[]>([]);
  const [query, setQuery] = createSignal("");
  const [options, setOptions] = createSignal<Option[]>([]);
  const [active, setActive] = createSignal(0);
  const [body, setBody] = createSignal("");
  const [templated, setTemplated] = createSignal(false);
  let picker: PickerHandle | undefined;
  let bodyField: HTMLTextAreaElement | undefined;
  const [attached, setAttached] = createSignal<AttachedImages>(NOTHING_ATTACHED);
  const [chosen, setChosen] = createSignal<LineId | null>(null);
  const [preview, setPreview] = createSignal<Preview | null>(null);
  const [pickerOpen, setPickerOpen] = createSignal(false);
  const [hint, setHint] = createSignal("");
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  // "Send later": the panel with the time to send at (a datetime-local value, local time).
  const [later, setLater] = createSignal(false);
  const [laterAt, setLaterAt] = createSignal("");
  let toField: HTMLInputElement | undefined;
  let dialog: HTMLDivElement | undefined;
  let lineList: HTMLUListElement | undefined;
  let sendButton: HTMLButtonElement | undefined;
  // What had the focus when the line list took it (the line button, Send, the message): Escape
  // gives it back there.
  let pickerOpener: HTMLElement | null = null;
  const [activeLine, setActiveLine] = createSignal(0);
  let hoverTimer: ReturnType<typeof setTimeout> | undefined;
  // The line list opens on hover and on click. Hover opens it for as long as the pointer stays;
  // a click keeps it open until the next click, so the click that follows a hover never closes
  // the list the hover just opened.
  let heldOpen = false;
  // Opened by a click, a key or Send (`hold`), the list takes the focus; a hover leaves it.
  const openPicker = (hold: boolean) => {
    heldOpen = heldOpen || hold;
    if (!pickerOpen()) {
      const at = props.lines.findIndex((l) => l.id === sendingLine()?.id);
      setActiveLine(Math.max(0, at));
    }
    setPickerOpen(true);
    if (hold) {
      const from = document.activeElement;
      if (from instanceof HTMLElement && from !== lineList) pickerOpener = from;
      queueMicrotask(() => lineList?.focus());
    }
  };
  const closePicker = () => {
    heldOpen = false;
    setPickerOpen(false);
  };

  const draft = createDraft<ComposerDraft>(b, COMPOSER, {
    snapshot: () => ({ recipients: chips(), body: body(), line: chosen(), template: templated() }),
    images: attached,
    isEmpty: (d, images) => d.recipients.length === 0 && !d.body && images.images.length === 0,
    restore: (d, images) => {
      setChips(d.recipients ?? []);
      setBody(d.body ?? "");
      setTemplated(!!d.template && !!d.body);
      setChosen(d.line ?? null);
      setAttached(images);
    },
    onError: setError,
  });
  onMount(() => void draft.loaded.then(() => toField?.focus()));

  // The counter and the sending line, from Rust, at every keystroke: one call at a time, the newest
  // input winning, so the counter follows the typing without a debounce and never shows an older
  // text's count after a newer one's.
  const kinds = () => attached().images.map((i) => i.kind);
  const refresh = newestWins(
    () =>
      b.preview({
        recipients: chips().map((c) => c.number),
        body: body(),
        line: chosen(),
        images: kinds(),
        template: templated(),
      }),
    setPreview,
    (e) => setError(messageOf(e)),
  );
  createEffect(on([chips, body, chosen, templated, () => kinds().join()], () => void refresh()));

  // Contacts matching what is typed in the To field.
  const search = debounce(async (q: string) => {
    const found: Option[] = [];
    if (q.trim()) {
      try {
        for (const c of await b.findContacts(q)) {
          c.numbers.forEach((n, i) => {
            const shown = c.numbers_display[i] ?? n;
            found.push({
              contact: c,
              number: n,
              label: c.name,
              detail: c.default_line_label ? `${shown} · ${c.default_line_label}` : shown,
            });
          });
        }
        if (/^[+(\d]/.test(q.trim()) && found.length === 0) {
          const r = await b.recipient(q).catch(() => null);
          if (r) found.push({ contact: null, number: r.number, label: r.display, detail: "New number" });
        }
      } catch (e) {
        setError(messageOf(e));
      }
    }
    if (q === query()) {
      setOptions(found);
      setActive(0);
    }
  }, 80);

  const addChip = async (option: Option | null) => {
    setError("");
    const typed = query().trim();
    if (!option && !typed) return;
    if (chips().length >= MAX_RECIPIENTS) {
      setError(`A message can go to at most ${MAX_RECIPIENTS} people.`);
      return;
    }
    try {
      const r = await b.recipient(option ? option.number : typed);
      if (chips().some((c) => c.number === r.number)) {
        setError(`${r.display} is already a recipient.`);
      } else {
        setChips([...chips(), r]);
      }
      setQuery("");
      setOptions([]);
    } catch (e) {
      setError(messageOf(e));
    }
    toField?.focus();
  };

  // The line list as a listbox: the arrows pick (the selection follows them), Enter or Space
  // takes the line and goes on to Send, Escape closes it where it was opened from.
  const onLineListKey = (e: KeyboardEvent) => {
    const last = props.lines.length - 1;
    const move = (to: number) => {
      e.preventDefault();
      setActiveLine(to);
      const line = props.lines[to];
      if (line) choose(line.id);
    };
    switch (e.key) {
      case "ArrowDown":
        return move(Math.min(last, activeLine() + 1));
      case "ArrowUp":
        return move(Math.max(0, activeLine() - 1));
      case "Home":
        return move(0);
      case "End":
        return move(last);
      case "Enter":
      case " ": {
        if (e.ctrlKey || e.metaKey) return; // Ctrl+Enter sends, from the dialog
        e.preventDefault();
        const line = props.lines[activeLine()];
        if (line) choose(line.id);
        closePicker();
        sendButton?.focus();
        return;
      }
      case "Escape":
        e.preventDefault();
        e.stopPropagation();
        closePicker();
        (pickerOpener?.isConnected ? pickerOpener : sendButton)?.focus();
        return;
      case "Tab":
        // The list goes with the focus: on to Send, or back to the line button.
        e.preventDefault();
        closePicker();
        (e.shiftKey ? (pickerOpener?.isConnected ? pickerOpener : sendButton) : sendButton)?.focus();
        return;
    }
  };

  // Tab and Shift+Tab go round the window's controls, never out to the page behind it.
  const keepTabInside = (e: KeyboardEvent) => {
    if (!dialog || e.defaultPrevented) return; // the line list moved the focus itself
    const stops = [
      ...dialog.querySelectorAll<HTMLElement>(
        "button:not([disabled]), input:not([disabled]):not([tabindex='-1']), textarea, select, [tabindex='0']",
      ),
    ].filter((el) => el.getClientRects().length > 0);
    const first = stops[0];
    const last = stops[stops.length - 1];
    if (!first || !last) return;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };

  const removeChip = (number: string) => {
    setChips(chips().filter((c) => c.number !== number));
  };

  const decision = () => preview()?.decision;
  const sendingLine = (): Line | null => {
    const d = decision();
    return d?.kind === "use" ? d.line : null;
  };
  const choose = (line: LineId) => {
    setChosen(line);
    setHint("");
    heldOpen = false; // the list stays while the pointer is on it, showing the pick highlighted
  };

  // Whether the sending line can take the attached images is said as soon as they are attached (the
  // engine decides: a line without MMS, or a carrier without a media host), not only at Send.
  const imageProblem = () => {
    const p = preview()?.problem;
    return p && (p.code === "line_has_no_mms" || p.code === "no_media_host") ? p.message : "";
  };

  // Recipients who texted STOP to the sending line: their chip says so, and a send leaves them out.
  const optedOutOf = (number: string): string | undefined =>
    preview()?.opted_out.find((o) => o.number === number)?.line;
  const leftOutNote = () => {
    const out = preview()?.opted_out ?? [];
    if (out.length === 0 || preview()?.problem?.code === "opted_out") return "";
    const names = out.map((o) => o.display).join(", ");
    return `${names} opted out of ${out[0]!.line} (replied STOP): left out of this message, the others get it.`;
  };

  // A template's own problems (a variable a recipient has no value for, a variable that does not
  // exist) are said as the person writes, not only at Send.
  const templateProblem = () => {
    const p = preview()?.problem;
    return templated() && p && (p.code === "template_missing_value" || p.code === "template_invalid")
      ? p.message
      : "";
  };
  const filled = () => (templated() ? preview()?.filled ?? null : null);
  const firstRecipient = () => preview()?.recipients[0]?.display ?? chips()[0]?.display ?? "";
  const insertTemplate = (text: string) => {
    setBody(text);
    setTemplated(true);
    queueMicrotask(() => bodyField?.focus());
  };

  // A send now, or at `at` (ms) when scheduled.
  const send = async (at?: number) => {
    // Busy before anything is awaited: a double click or a second Ctrl+Enter while this send
    // runs does nothing, so the fan-out goes once.
    if (busy()) return;
    setBusy(true);
    setError("");
    try {
      await refresh(); // the decision for what is there now
      const p = preview();
      if (p?.decision.kind === "pick") {
        // DESIGN.md: the first Send opens the list of lines and sends nothing.
        openPicker(true);
        setHint("Choose the number to send from, then press Send again.");
        return;
      }
      if (p?.problem) {
        setError(p.problem.message);
        return;
      }
      const input = {
        recipients: chips().map((c) => c.number),
        body: body(),
        line: chosen(),
        images: attached().images.map((i) => i.data),
        template: templated(),
      };
      if (at !== undefined) {
        const receipt = await draft.clearWith(() => b.schedule(input, at));
        draft.finish(); // the draft is gone with the scheduled message
        props.onScheduled(receipt);
        return;
      }
      const receipt = await draft.clearWith(() => b.send(input));
      draft.finish(); // the draft is gone with the send
      props.onSent(receipt);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  const openLater = () => {
    if (!laterAt()) setLaterAt(localInput(Date.now() + 3_600_000));
    setLater(!later());
  };
  const scheduleAt = () => {
    const at = new Date(laterAt()).getTime();
    if (!laterAt() || Number.isNaN(at)) {
      setError("Pick the day and time to send at.");
      return;
    }
    void send(at);
  };

  const discard = async () => {
    // A save still on its way lands before the discard, never after it.
    await draft.clearWith(() => b.discardDraft(COMPOSER)).catch(() => undefined);
    draft.finish();
    props.onClose();
  };

  const counter = () => {
    const s = preview()?.sms;
    if (!s) return "";
    const enc = s.encoding === "gsm7" ? "GSM-7" : "UCS-2";
    const segs = `${s.segments} ${s.segments === 1 ? "segment" : "segments"}`;
    return `${s.chars}/1600 · ${enc} · ${segs} · ${s.remaining} left`;
  };

  return (
    <div class="dialog-backdrop" onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div
        class="dialog composer"
        role="dialog"
        aria-modal="true"
        aria-label="New message"
        ref={dialog}
        onKeyDown={(e) => {
          if (e.key === "Tab") {
            keepTabInside(e);
          } else if (e.key === "Escape") {
            e.stopPropagation();
            if (pickerOpen()) closePicker();
            else props.onClose();
          } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
            e.preventDefault();
            void send();
          }
        }}
      >
        <header class="dialog-header">
          <h2>New message</h2>
          <button class="icon" aria-label="Close" onClick={props.onClose}>
            ✕
          </button>
        </header>

        <div class="to-field">
          <label for="composer-to">To</label>
          <div class="chips">
            {/* The list holds the chips only: the combobox beside it is no list item. */}
            <div class="chip-list" role="list" aria-label="Recipients">
              <For each={chips()}>
                {(c) => (
                  <span
                    class={optedOutOf(c.number) ? "chip opted-out" : "chip"}
                    role="listitem"
                    aria-label={optedOutOf(c.number) ? `${c.display}, opted out of ${optedOutOf(c.number)}` : c.display}
                  >
                    {c.display}
                    <Show when={optedOutOf(c.number)}>
                      {(line) => <span class="chip-note">Opted out of {line()}</span>}
                    </Show>
                    <button
                      class="chip-remove"
                      aria-label={`Remove ${c.display}`}
                      onClick={() => removeChip(c.number)}
                    >
                      ✕
                    </button>
                  </span>
                )}
              </For>
            </div>
            <input
              id="composer-to"
              ref={toField}
              role="combobox"
              aria-expanded={options().length > 0}
              aria-controls="composer-results"
              aria-autocomplete="list"
              aria-activedescendant={options().length > 0 ? `composer-result-${active()}` : undefined}
              autocomplete="off"
              placeholder={chips().length ? "" : "Name or phone number"}
              value={query()}
              onInput={(e) => {
                setQuery(e.currentTarget.value);
                search(e.currentTarget.value);
              }}
              onKeyDown={(e) => {
                if (e.key === "Escape" && options().length > 0) {
                  // The suggestions close first; the next Escape closes the window.
                  e.stopPropagation();
                  setOptions([]);
                } else if (e.key === "ArrowDown") {
                  e.preventDefault();
                  setActive(Math.min(options().length - 1, active() + 1));
                } else if (e.key === "ArrowUp") {
                  e.preventDefault();
                  setActive(Math.max(0, active() - 1));
                } else if (e.key === "Enter" && !e.ctrlKey && !e.metaKey) {
                  e.preventDefault();
                  void addChip(options()[active()] ?? null);
                } else if (e.key === "Backspace" && !query() && chips().length) {
                  removeChip(chips()[chips().length - 1]!.number);
                }
              }}
            />
          </div>
          <span class="muted chip-count">
            {chips().length}/{MAX_RECIPIENTS}
          </span>
          {/* Always there (hidden while empty), so that the combobox's aria-controls finds it. */}
          <ul
            id="composer-results"
            class="results"
            role="listbox"
            aria-label="Matching contacts"
            hidden={options().length === 0}
          >
            <For each={options()}>
              {(o, i) => (
                <li
                  id={`composer-result-${i()}`}
                  role="option"
                  aria-label={`${o.label}, ${o.detail}`}
                  aria-selected={i() === active()}
                  classList={{ active: i() === active() }}
                  onMouseDown={(e) => {
                    e.preventDefault();
                    void addChip(o);
                  }}
                >
                  <span class="option-name">{o.label}</span>
                  <span class="muted">{o.detail}</span>
                </li>
              )}
            </For>
          </ul>
        </div>
        <Show when={leftOutNote()}>
          <p role="status" class="hint">{leftOutNote()}</p>
        </Show>
        <Show when={preview()?.problem?.code === "opted_out" ? preview()?.problem?.message : ""}>
          {(m) => <p role="status" class="error">{m()}</p>}
        </Show>

        <textarea
          class="composer-body"
          aria-label="Message"
          placeholder="Type your message, or / for a template"
          rows={6}
          ref={bodyField}
          value={body()}
          onInput={(e) => {
            setBody(e.currentTarget.value);
            if (!e.currentTarget.value) setTemplated(false);
          }}
          onKeyDown={(e) => {
            if (e.key === "/" && !body() && !e.ctrlKey && !e.metaKey && !e.altKey) {
              e.preventDefault();
              picker?.open(e.currentTarget);
            }
          }}
        />
        <Show when={filled() !== null && chips().length > 0}>
          <p class="filled" role="status">
            {firstRecipient()} gets: {filled()}
          </p>
        </Show>
        <Show when={templateProblem()}>
          <p role="status" class="error">{templateProblem()}</p>
        </Show>
        <p class="counter muted" role="status" aria-label="Message length">
          {counter()}
        </p>

        <AttachedImagesTray
          attached={attached()}
          onRemove={(i) => setAttached(withoutImage(attached(), i))}
        />
        <Show when={imageProblem()}>
          <p role="status" class="error">{imageProblem()}</p>
        </Show>

        <Show when={error()}>
          <p role="alert" class="error">{error()}</p>
        </Show>
        <Show when={hint()}>
          <p role="status" class="hint">{hint()}</p>
        </Show>

        <Show when={later()}>
          <div id="composer-later" class="send-later" role="group" aria-label="Send later">
            <label for="composer-at">Send at</label>
            <input
              id="composer-at"
              type="datetime-local"
              value={laterAt()}
              onInput={(e) => setLaterAt(e.currentTarget.value)}
            />
            <button onClick={() => setLaterAt(localInput(Date.now() + 3_600_000))}>In 1 hour</button>
            <button onClick={() => setLaterAt(localInput(tomorrowAt(9)))}>Tomorrow 9:00</button>
            <button class="primary" disabled={busy()} onClick={scheduleAt}>
              Schedule
            </button>
          </div>
        </Show>
        <footer class="composer-actions">
          <AttachButton
            backend={b}
            attached={attached()}
            onAttached={setAttached}
            onError={setError}
          />
          <TemplatePicker
            backend={b}
            id="composer"
            onPick={(t) => insertTemplate(t.text)}
            onError={setError}
            handle={(h) => (picker = h)}
          />
          <button class="link" onClick={() => void discard()}>
            Discard
          </button>
          <span class="spacer" />
          <div
            class="line-picker"
            onMouseEnter={() => {
              clearTimeout(hoverTimer);
              if (props.lines.length > 1) openPicker(false);
            }}
            onMouseLeave={() => {
              hoverTimer = setTimeout(() => !hint() && !heldOpen && closePicker(), 400);
            }}
          >
            <Show when={props.lines.length > 1}>
              <button
                class="line-button"
                aria-label={sendingLine() ? `Sending line: ${sendingLine()!.label}` : "Choose sending line"}
                aria-haspopup="listbox"
                aria-expanded={pickerOpen()}
                style={{ "--line-color": sendingLine()?.color ?? "#888" }}
                onClick={() => (heldOpen ? closePicker() : openPicker(true))}
                onKeyDown={(e) => {
                  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
                    e.preventDefault();
                    openPicker(true);
                  }
                }}
              >
                <span class="line-dot" aria-hidden="true" />
                {sendingLine()?.label ?? "Line"}
              </button>
            </Show>
            <Show when={pickerOpen()}>
              <ul
                class="line-list"
                role="listbox"
                aria-label="Send from"
                tabIndex={0}
                ref={lineList}
                aria-activedescendant={
                  props.lines[activeLine()] ? `composer-line-${props.lines[activeLine()]!.id}` : undefined
                }
                onKeyDown={onLineListKey}
              >
                <For each={props.lines}>
                  {(l, i) => (
                    <li
                      id={`composer-line-${l.id}`}
                      role="option"
                      aria-selected={sendingLine()?.id === l.id}
                      classList={{ selected: sendingLine()?.id === l.id, active: i() === activeLine() }}
                      style={{ "--line-color": l.color }}
                      onClick={() => {
                        setActiveLine(i());
                        choose(l.id);
                      }}
                    >
                      <span class="line-dot" aria-hidden="true" />
                      <span class="option-name">{l.label}</span>{" "}
                      <span class="muted">{l.number_display}</span>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          </div>
          <button aria-expanded={later()} aria-controls="composer-later" onClick={openLater}>
            Send later
          </button>
          <button class="primary send" ref={sendButton} disabled={busy()} onClick={() => void send()}>
            {sendingLine() ? `Send from ${sendingLine()!.label}` : "Send"}
          </button>
        </footer>
      </div>
    </div>
  );
}

/** Tomorrow at `hour`:00, local time, in ms. */
function tomorrowAt(hour: number): number {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  d.setHours(hour, 0, 0, 0);
  return d.getTime();
}
