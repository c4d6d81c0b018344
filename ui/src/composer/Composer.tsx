// The New message window. Recipients are found by name or number and become chips (1 to 20);
// the counter shows characters, encoding and segments as Rust counts them; up to 10 images are
// checked and, if too large together, scaled by Rust before they are shown. The send button follows DESIGN.md's
// table, decided in Rust (`preview`): "Send from Sales" for a shared default; otherwise the first
// Send opens the line list and sends nothing, the chosen line is highlighted and shown on the
// button, and a second Send sends. The line button changes the line at any time (click or
// hover). Everything typed is kept as a draft.
import { createEffect, createSignal, For, on, onMount, Show } from "solid-js";
import type {
  Backend, ContactView, Line, LineId, Preview, Recipient, SendReceipt,
} from "../backend";
import { messageOf } from "../backend";
import { debounce, newestWins } from "../app/format";
import { createDraft } from "../app/drafts";
import {
  AttachButton, AttachedImagesTray, NOTHING_ATTACHED, withoutImage,
  type AttachedImages,
} from "../app/attachment";

export const MAX_RECIPIENTS = 20;
const COMPOSER = "Composer" as const;

type ComposerDraft = {
  recipients: Recipient[];
  body: string;
  line: LineId | null;
};

type Option = { contact: ContactView | null; number: string; label: string; detail: string };

export function Composer(props: {
  backend: Backend;
  lines: Line[];
  onClose: () => void;
  onSent: (receipt: SendReceipt) => void;
}) {
  const b = props.backend;
  const [chips, setChips] = createSignal<Recipient[]>([]);
  const [query, setQuery] = createSignal("");
  const [options, setOptions] = createSignal<Option[]>([]);
  const [active, setActive] = createSignal(0);
  const [body, setBody] = createSignal("");
  const [attached, setAttached] = createSignal<AttachedImages>(NOTHING_ATTACHED);
  const [chosen, setChosen] = createSignal<LineId | null>(null);
  const [preview, setPreview] = createSignal<Preview | null>(null);
  const [pickerOpen, setPickerOpen] = createSignal(false);
  const [hint, setHint] = createSignal("");
  const [error, setError] = createSignal("");
  const [busy, setBusy] = createSignal(false);
  let toField: HTMLInputElement | undefined;
  let hoverTimer: ReturnType<typeof setTimeout> | undefined;
  // The line list opens on hover and on click. Hover opens it for as long as the pointer stays;
  // a click keeps it open until the next click, so the click that follows a hover never closes
  // the list the hover just opened.
  let heldOpen = false;
  const openPicker = (hold: boolean) => {
    heldOpen = heldOpen || hold;
    setPickerOpen(true);
  };
  const closePicker = () => {
    heldOpen = false;
    setPickerOpen(false);
  };

  const draft = createDraft<ComposerDraft>(b, COMPOSER, {
    snapshot: () => ({ recipients: chips(), body: body(), line: chosen() }),
    images: attached,
    isEmpty: (d, images) => d.recipients.length === 0 && !d.body && images.images.length === 0,
    restore: (d, images) => {
      setChips(d.recipients ?? []);
      setBody(d.body ?? "");
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
      }),
    setPreview,
    (e) => setError(messageOf(e)),
  );
  createEffect(on([chips, body, chosen, () => kinds().join()], () => void refresh()));

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

  const send = async () => {
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
      };
      const receipt = await draft.clearWith(() => b.send(input));
      draft.finish(); // the draft is gone with the send
      props.onSent(receipt);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
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
        onKeyDown={(e) => {
          if (e.key === "Escape") {
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
          <div class="chips" role="list" aria-label="Recipients">
            <For each={chips()}>
              {(c) => (
                <span class="chip" role="listitem" aria-label={c.display}>
                  {c.display}
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
            <input
              id="composer-to"
              ref={toField}
              role="combobox"
              aria-expanded={options().length > 0}
              aria-controls="composer-results"
              aria-autocomplete="list"
              autocomplete="off"
              placeholder={chips().length ? "" : "Name or phone number"}
              value={query()}
              onInput={(e) => {
                setQuery(e.currentTarget.value);
                search(e.currentTarget.value);
              }}
              onKeyDown={(e) => {
                if (e.key === "ArrowDown") {
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
          <Show when={options().length > 0}>
            <ul id="composer-results" class="results" role="listbox" aria-label="Matching contacts">
              <For each={options()}>
                {(o, i) => (
                  <li
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
          </Show>
        </div>

        <textarea
          class="composer-body"
          aria-label="Message"
          placeholder="Type your message"
          rows={6}
          value={body()}
          onInput={(e) => setBody(e.currentTarget.value)}
        />
        <p class="counter muted" aria-live="polite" aria-label="Message length">
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

        <footer class="composer-actions">
          <AttachButton
            backend={b}
            attached={attached()}
            onAttached={setAttached}
            onError={setError}
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
              >
                <span class="line-dot" aria-hidden="true" />
                {sendingLine()?.label ?? "Line"} ▾
              </button>
            </Show>
            <Show when={pickerOpen()}>
              <ul class="line-list" role="listbox" aria-label="Send from">
                <For each={props.lines}>
                  {(l) => (
                    <li
                      role="option"
                      aria-label={l.label}
                      aria-selected={sendingLine()?.id === l.id}
                      classList={{ selected: sendingLine()?.id === l.id }}
                      style={{ "--line-color": l.color }}
                      onClick={() => choose(l.id)}
                    >
                      <span class="line-dot" aria-hidden="true" />
                      <span class="option-name">{l.label}</span>
                      <span class="muted">{l.number}</span>
                    </li>
                  )}
                </For>
              </ul>
            </Show>
          </div>
          <button class="primary send" disabled={busy()} onClick={() => void send()}>
            {sendingLine() ? `Send from ${sendingLine()!.label}` : "Send"}
          </button>
        </footer>
      </div>
    </div>
  );
}
