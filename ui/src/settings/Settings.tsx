// Settings: default country for typed numbers, notification privacy, do-not-disturb, start in
// the tray, the global show/hide shortcut, how often replies are fetched, the carrier (see
// Carrier.tsx), the lines' labels and colours, and the templates (Templates.tsx). Escape closes
// the panel.
import { createResource, createSignal, For, Show } from "solid-js";
import type { Backend, Line, Settings as SettingsData } from "../backend";
import { messageOf } from "../backend";
import { Carrier } from "./Carrier";
import { Templates } from "./Templates";

export function Settings(props: {
  backend: Backend;
  lines: Line[];
  online: boolean | null;
  onClose: () => void;
  onLinesChanged: () => void;
}) {
  const b = props.backend;
  const [settings, { mutate }] = createResource(() => b.settings());
  const [error, setError] = createSignal("");
  const [saved, setSaved] = createSignal("");

  const set = async (name: keyof SettingsData, value: string) => {
    setError("");
    setSaved("");
    try {
      mutate(await b.setSetting(name, value));
      setSaved("Saved.");
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <section
      class="panel"
      aria-label="Settings"
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          props.onClose();
        }
      }}
    >
      <header class="dialog-header">
        <h2>Settings</h2>
        <button class="icon" aria-label="Close settings" onClick={props.onClose}>
          ✕
        </button>
      </header>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <Show when={saved()}>
        <p role="status" class="muted">{saved()}</p>
      </Show>
      <Show when={settings()}>
        {(s) => (
          <div class="settings-grid">
            <label>
              Default country for numbers typed without +
              <input
                value={s().default_country}
                maxLength={2}
                onChange={(e) => void set("default_country", e.currentTarget.value)}
              />
            </label>
            <label>
              Notifications show
              <select
                value={s().notification_privacy}
                onChange={(e) => void set("notification_privacy", e.currentTarget.value)}
              >
                <option value="full">Sender and message</option>
                <option value="sender">Sender only</option>
                <option value="nothing">Nothing but “New message”</option>
              </select>
            </label>
            <label class="check">
              <input
                type="checkbox"
                checked={s().do_not_disturb}
                onChange={(e) => void set("do_not_disturb", e.currentTarget.checked ? "on" : "off")}
              />
              Do not disturb
            </label>
            <label class="check">
              <input
                type="checkbox"
                checked={s().start_minimized}
                onChange={(e) => void set("start_minimized", e.currentTarget.checked ? "on" : "off")}
              />
              Start minimised to the tray
            </label>
            <label>
              Show/hide shortcut
              <input
                value={s().global_shortcut}
                onChange={(e) => void set("global_shortcut", e.currentTarget.value)}
              />
            </label>
            <label>
              Check for replies every (seconds)
              <input
                type="number"
                min={2}
                max={600}
                value={s().poll_interval}
                onChange={(e) => void set("poll_interval", e.currentTarget.value)}
              />
            </label>
          </div>
        )}
      </Show>
      <Carrier backend={b} online={props.online} onAccountChanged={props.onLinesChanged} />
      <h3>Lines</h3>
      <ul class="line-settings" aria-label="Lines">
        <For each={props.lines}>
          {(l) => <LineRow backend={b} line={l} onSaved={props.onLinesChanged} onError={setError} />}
        </For>
      </ul>
      <Templates backend={b} />
    </section>
  );
}

/** What a line can do, in words: its carrier's capabilities, or that it left the account. */
function capabilities(line: Line): string {
  if (!line.in_account) return "no longer in your account";
  if (!line.sms) return "can't send texts";
  return line.mms ? "SMS and images" : "SMS only, no images";
}

function LineRow(props: { backend: Backend; line: Line; onSaved: () => void; onError: (m: string) => void }) {
  const [label, setLabel] = createSignal(props.line.label);
  const [color, setColor] = createSignal(props.line.color);
  const save = async (e: Event) => {
    e.preventDefault();
    try {
      await props.backend.editLine(props.line.id, label(), color());
      props.onSaved();
    } catch (err) {
      props.onError(messageOf(err));
    }
  };
  return (
    <li>
      <form class="line-row" onSubmit={save} aria-label={`Line ${props.line.number_display}`}>
        <input
          type="color"
          aria-label={`Colour of ${props.line.label}`}
          value={color()}
          onInput={(e) => setColor(e.currentTarget.value)}
        />
        <input aria-label={`Label of ${props.line.number_display}`} value={label()} onInput={(e) => setLabel(e.currentTarget.value)} />
        <span class="muted">
          {props.line.number_display} · {capabilities(props.line)}
        </span>
        <button type="submit">Save line</button>
      </form>
    </li>
  );
}
