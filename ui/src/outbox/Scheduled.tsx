// Messages waiting to be sent later: the Scheduled panel (all of them, soonest first) and the
// strip above a conversation's reply box (its own). Each can be edited (text and time), sent
// now or cancelled; one found late by more than 15 minutes (the computer was off or asleep at
// its time) says so and waits for "Send now" or "Cancel". The engine keeps and checks them.
import { createResource, createSignal, For, Show } from "solid-js";
import type { Backend, ScheduledView } from "../backend";
import { messageOf } from "../backend";
import { fullTime, localInput } from "../app/format";

/** One waiting message with its actions; `onChanged` after any of them. */
export function ScheduledItem(props: {
  backend: Backend;
  item: ScheduledView;
  showTo: boolean;
  onChanged: () => void;
}) {
  const b = props.backend;
  const [editing, setEditing] = createSignal(false);
  const [body, setBody] = createSignal("");
  const [at, setAt] = createSignal("");
  const [error, setError] = createSignal("");
  const act = async (f: () => Promise<unknown>) => {
    setError("");
    try {
      await f();
      setEditing(false);
      props.onChanged();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  const label = () =>
    `${props.item.held ? "Late" : "Scheduled"} for ${fullTime(props.item.send_at)}` +
    (props.showTo ? ` to ${props.item.display} via ${props.item.line}` : "");
  return (
    <li class="scheduled-item" classList={{ late: props.item.held }} aria-label={label()}>
      <p class="scheduled-when">
        {label()}
        <Show when={props.item.held}>
          <span class="late-note"> · it was due while Switchboard was closed or asleep</span>
        </Show>
      </p>
      <Show
        when={editing()}
        fallback={
          <p class="scheduled-body">
            {props.item.body}
            <Show when={props.item.images > 0}>
              <span class="muted"> · {props.item.images} {props.item.images === 1 ? "photo" : "photos"}</span>
            </Show>
          </p>
        }
      >
        <textarea aria-label="Scheduled message" rows={3} value={body()} onInput={(e) => setBody(e.currentTarget.value)} />
        <label>
          Send at{" "}
          <input type="datetime-local" value={at()} onInput={(e) => setAt(e.currentTarget.value)} />
        </label>
      </Show>
      <div class="scheduled-actions">
        <Show
          when={editing()}
          fallback={
            <>
              <button
                onClick={() => {
                  setBody(props.item.body);
                  setAt(localInput(props.item.send_at));
                  setEditing(true);
                }}
              >
                Edit
              </button>
              <button onClick={() => void act(() => b.sendScheduledNow([props.item.id]))}>Send now</button>
              <button class="danger" onClick={() => void act(() => b.cancelScheduled(props.item.id))}>
                Cancel message
              </button>
            </>
          }
        >
          <button
            class="primary"
            onClick={() => void act(() => b.editScheduled(props.item.id, body(), new Date(at()).getTime()))}
          >
            Save
          </button>
          <button onClick={() => setEditing(false)}>Keep as it was</button>
        </Show>
      </div>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
    </li>
  );
}

/** The Scheduled panel: every waiting message. Escape closes it. */
export function Scheduled(props: { backend: Backend; onClose: () => void; onChanged: () => void }) {
  const b = props.backend;
  const [items, { refetch }] = createResource(() => b.scheduled());
  const changed = () => {
    void refetch();
    props.onChanged();
  };
  return (
    <section
      class="panel"
      aria-label="Scheduled messages"
      onKeyDown={(e) => {
        if (e.key === "Escape") {
          e.stopPropagation();
          props.onClose();
        }
      }}
    >
      <header class="dialog-header">
        <h2>Scheduled messages</h2>
        <button class="icon" aria-label="Close scheduled messages" onClick={props.onClose}>
          ✕
        </button>
      </header>
      <Show when={items.error}>
        <p role="alert" class="error">{messageOf(items.error)}</p>
      </Show>
      <Show when={items()?.some((i) => i.held)}>
        <button class="primary" onClick={() => void b.sendScheduledNow(null).then(changed, () => undefined)}>
          Send the late ones now
        </button>
      </Show>
      <Show when={items()?.length === 0}>
        <p class="empty">Nothing is scheduled. In New message, “Send later” picks a time.</p>
      </Show>
      <ul class="scheduled-list" aria-label="Waiting to be sent">
        <For each={items() ?? []}>
          {(item) => <ScheduledItem backend={b} item={item} showTo onChanged={changed} />}
        </For>
      </ul>
    </section>
  );
}
