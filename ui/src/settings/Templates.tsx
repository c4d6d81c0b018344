// Settings → Templates: the saved texts with variables, each with its Remove button, and a form
// to add one. The rules (a name unique whatever its case, the variables {first_name}, {name} and
// {line}, {{ and }} for a brace) are Rust's: a refusal is shown in its words.
import { createResource, createSignal, For, Show } from "solid-js";
import type { Backend } from "../backend";
import { messageOf } from "../backend";

export function Templates(props: { backend: Backend }) {
  const b = props.backend;
  const [templates, { refetch }] = createResource(() => b.templates());
  const [name, setName] = createSignal("");
  const [text, setText] = createSignal("");
  const [error, setError] = createSignal("");
  const [done, setDone] = createSignal("");

  const add = async (e: Event) => {
    e.preventDefault();
    setError("");
    setDone("");
    try {
      const saved = await b.addTemplate(name(), text());
      setName("");
      setText("");
      setDone(`Saved the template “${saved.name}”.`);
      await refetch();
    } catch (err) {
      setError(messageOf(err));
    }
  };
  const remove = async (id: number, shownName: string) => {
    setError("");
    setDone("");
    try {
      await b.removeTemplate(id);
      setDone(`Removed the template “${shownName}”.`);
      await refetch();
    } catch (err) {
      setError(messageOf(err));
    }
  };

  return (
    <section class="templates-settings" aria-labelledby="settings-templates">
      <h3 id="settings-templates">Templates</h3>
      <p class="muted">
        Write {"{first_name}"}, {"{name}"} or {"{line}"} where each recipient's own first name, name or
        sending line goes; {"{{"} and {"}}"} write a brace itself.
      </p>
      <Show when={error()}>
        <p role="alert" class="error">{error()}</p>
      </Show>
      <Show when={done()}>
        <p role="status" class="muted">{done()}</p>
      </Show>
      <Show when={(templates() ?? []).length > 0} fallback={<p class="muted">No templates yet.</p>}>
        <ul class="template-settings" aria-label="Saved templates">
          <For each={templates()}>
            {(t) => (
              <li class="template-row">
                <span class="option-name">{t.name}</span>
                <span class="template-text">{t.text}</span>
                <button type="button" class="danger" aria-label={`Remove ${t.name}`} onClick={() => void remove(t.id, t.name)}>
                  Remove
                </button>
              </li>
            )}
          </For>
        </ul>
      </Show>
      <form class="contact-form" aria-label="New template" onSubmit={add}>
        <label>
          Template name
          <input value={name()} maxLength={60} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label>
          Template text
          <textarea
            rows={3}
            maxLength={1600}
            value={text()}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <div class="form-actions">
          <button type="submit" class="primary">
            Add template
          </button>
        </div>
      </form>
    </section>
  );
}
