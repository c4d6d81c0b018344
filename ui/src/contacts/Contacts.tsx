// The address book: contacts with one or more numbers and an optional default line (the line
// the composer sends from for them), added, edited, removed, or imported from vCard/CSV with a
// report of what was skipped and why. Escape closes the form, then the panel; the focus goes to
// the form's first field when it opens and back to what opened it when it closes.
import { createResource, createSignal, For, Show } from "solid-js";
import type { Backend, ContactView, ImportSummary, Line, LineId } from "../backend";
import { messageOf } from "../backend";

export function Contacts(props: { backend: Backend; lines: Line[]; onClose: () => void; onChanged: () => void }) {
  const b = props.backend;
  const [contacts, { refetch }] = createResource(() => b.contacts());
  const [editing, setEditing] = createSignal<ContactView | "new" | null>(null);
  const [report, setReport] = createSignal<ImportSummary | null>(null);
  const [error, setError] = createSignal("");
  let file: HTMLInputElement | undefined;
  let addButton: HTMLButtonElement | undefined;
  let formOpener: HTMLElement | null = null;

  const edit = (c: ContactView | "new") => {
    formOpener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    setEditing(c);
  };
  const closeForm = () => {
    setEditing(null);
    // The row's Edit button may have been drawn again: then the focus goes to Add contact.
    queueMicrotask(() => (formOpener?.isConnected ? formOpener : addButton)?.focus());
  };

  const changed = () => {
    void refetch();
    props.onChanged();
  };

  const importFile = async (f: File | undefined) => {
    if (!f) return;
    setError("");
    try {
      setReport(await b.importContacts(await f.text()));
      changed();
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <section
      class="panel"
      aria-label="Contacts"
      onKeyDown={(e) => {
        if (e.key !== "Escape") return;
        e.stopPropagation();
        if (editing()) closeForm();
        else props.onClose();
      }}
    >
      <header class="dialog-header">
        <h2>Contacts</h2>
        <button ref={addButton} onClick={() => edit("new")}>
          Add contact
        </button>
        <button onClick={() => file?.click()}>Import contacts</button>
        <input
          ref={file}
          type="file"
          accept=".vcf,.csv,text/vcard,text/csv"
          class="visually-hidden"
          tabIndex={-1}
          aria-label="Contacts file"
          onChange={(e) => {
            void importFile(e.currentTarget.files?.[0]);
            e.currentTarget.value = "";
          }}
        />
        <button class="icon" aria-label="Close contacts" onClick={props.onClose}>
          ✕
        </button>
      </header>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <Show when={report()} keyed>
        {(r) => (
          <div class="report" role="status" aria-label="Import report">
            <p>
              Added {r.added} {r.added === 1 ? "contact" : "contacts"}
              {r.skipped.length ? `; skipped ${r.skipped.length}:` : "."}
            </p>
            <ul>
              <For each={r.skipped}>
                {(s) => (
                  <li>
                    Entry {s.entry}
                    {s.label ? ` (${s.label})` : ""}: {s.reason}
                  </li>
                )}
              </For>
            </ul>
            <button class="link" onClick={() => setReport(null)}>
              Dismiss
            </button>
          </div>
        )}
      </Show>
      {/* Keyed: each contact gets a fresh form, and closing it never reads a stale contact. */}
      <Show when={editing()} keyed>
        {(c) => (
          <ContactForm
            backend={b}
            lines={props.lines}
            contact={c === "new" ? null : c}
            onDone={() => {
              closeForm();
              changed();
            }}
            onCancel={closeForm}
          />
        )}
      </Show>
      <ul class="contact-list" aria-label="Contact list">
        <For each={contacts()} fallback={<li class="empty">No contacts yet.</li>}>
          {(c) => (
            <li class="contact-row">
              <span class="option-name">{c.name}</span>
              <span class="muted">{c.numbers_display.join(", ")}</span>
              <span class="muted">
                {c.default_line_label ? `Sends from ${c.default_line_label}` : "No default line"}
              </span>
              <button aria-label={`Edit ${c.name}`} onClick={() => edit(c)}>
                Edit
              </button>
            </li>
          )}
        </For>
      </ul>
    </section>
  );
}

function ContactForm(props: {
  backend: Backend;
  lines: Line[];
  contact: ContactView | null;
  onDone: () => void;
  onCancel: () => void;
}) {
  const [name, setName] = createSignal(props.contact?.name ?? "");
  const [numbers, setNumbers] = createSignal<string[]>(props.contact?.numbers.length ? [...props.contact.numbers] : [""]);
  const [line, setLine] = createSignal<LineId | null>(props.contact?.default_line ?? null);
  const [error, setError] = createSignal("");

  const submit = async (e: Event) => {
    e.preventDefault();
    setError("");
    const input = { name: name(), numbers: numbers().filter((n) => n.trim()), default_line: line() };
    try {
      if (props.contact) await props.backend.editContact(props.contact.id, input);
      else await props.backend.addContact(input);
      props.onDone();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  const remove = async () => {
    if (!props.contact) return;
    try {
      await props.backend.removeContact(props.contact.id);
      props.onDone();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <form class="contact-form" aria-label={props.contact ? "Edit contact" : "New contact"} onSubmit={submit}>
      <label>
        Name
        <input
          ref={(el) => queueMicrotask(() => el.focus())}
          value={name()}
          onInput={(e) => setName(e.currentTarget.value)}
          required
        />
      </label>
      <For each={numbers()}>
        {(n, i) => (
          <label>
            Phone number {numbers().length > 1 ? i() + 1 : ""}
            <input
              value={n}
              inputmode="tel"
              onInput={(e) => {
                const next = [...numbers()];
                next[i()] = e.currentTarget.value;
                setNumbers(next);
              }}
            />
          </label>
        )}
      </For>
      <button type="button" class="link" onClick={() => setNumbers([...numbers(), ""])}>
        Add another number
      </button>
      <label>
        Default line
        <select
          value={line() ?? ""}
          onChange={(e) => setLine(e.currentTarget.value ? Number(e.currentTarget.value) : null)}
        >
          <option value="">None (choose when sending)</option>
          <For each={props.lines}>{(l) => <option value={l.id}>{l.label}</option>}</For>
        </select>
      </label>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <div class="form-actions">
        <Show when={props.contact}>
          <button type="button" class="danger" onClick={() => void remove()}>
            Delete contact
          </button>
        </Show>
        <span class="spacer" />
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary">
          Save contact
        </button>
      </div>
    </form>
  );
}
