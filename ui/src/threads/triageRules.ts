// Triage's pure logic for the page: the snooze's ready-made times (in this computer's time
// zone, which the page knows), the jump box's matches, which row comes next when one leaves the
// list, and whether a key press is typing (single-letter shortcuts stay out of text fields).

/** A conversation as the jump box and the list's moves see it. */
export type Row = { id: number; display: string; counterpart: string; counterpart_display: string };

/** A ready-made snooze time: what the button says, and when (ms since the epoch). */
export type SnoozeChoice = { label: string; until: number };

const timeOf = (d: Date) => d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });

/** "Later today" (three hours on, at the next whole hour; not offered after 20:00, when that
 * is tomorrow in all but name) and "Tomorrow morning" (08:00). */
export function snoozeChoices(now: Date): SnoozeChoice[] {
  const choices: SnoozeChoice[] = [];
  const later = new Date(now);
  later.setMinutes(0, 0, 0);
  later.setHours(later.getHours() + 4);
  if (now.getHours() < 20 && later.getDate() === now.getDate()) {
    choices.push({ label: `Later today, ${timeOf(later)}`, until: later.getTime() });
  }
  const morning = new Date(now);
  morning.setDate(morning.getDate() + 1);
  morning.setHours(8, 0, 0, 0);
  choices.push({ label: `Tomorrow morning, ${timeOf(morning)}`, until: morning.getTime() });
  return choices;
}

/** The value of an `<input type="datetime-local">` ("2026-12-01T15:00") as ms in this
 * computer's time zone; null when empty or not a time. */
export function pickedTime(value: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  const at = new Date(y, mo - 1, d, h, mi);
  return at.getMonth() === mo - 1 && at.getDate() === d ? at.getTime() : null;
}

/** An `<input type="datetime-local">` value for `ms`, in this computer's time zone. */
export function localInputValue(ms: number): string {
  const d = new Date(ms);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

/** The rows matching what was typed in the jump box: every word starts a word of the name, or
 * the digits are in the number; names that start with it first. */
export function jumpMatches<T extends Row>(rows: T[], query: string, max = 8): T[] {
  const q = query.trim().toLowerCase();
  if (!q) return [];
  const words = q.split(/\s+/);
  const digits = q.replace(/[^\d]/g, "");
  const byNumber = digits.length >= 3 && /^[\d\s()+.-]+$/.test(q);
  const seen = new Set<number>();
  const scored: { row: T; score: number }[] = [];
  for (const row of rows) {
    if (seen.has(row.id)) continue;
    const name = row.display.toLowerCase();
    const nameWords = name.split(/\s+/);
    let score = -1;
    if (byNumber && row.counterpart.replace(/[^\d]/g, "").includes(digits)) score = 1;
    if (words.every((w) => nameWords.some((n) => n.startsWith(w)))) score = name.startsWith(q) ? 3 : 2;
    if (score < 0) continue;
    seen.add(row.id);
    scored.push({ row, score });
  }
  // Stable: the list's order (newest first) within a score.
  return scored
    .map((s, i) => ({ ...s, i }))
    .sort((a, b) => b.score - a.score || a.i - b.i)
    .slice(0, max)
    .map((s) => s.row);
}

/** The row to open once `id` leaves the list: the one below it, else the one above, else none. */
export function nextAfter(rows: { id: number }[], id: number): number | null {
  const at = rows.findIndex((r) => r.id === id);
  if (at < 0) return rows[0]?.id ?? null;
  return rows[at + 1]?.id ?? rows[at - 1]?.id ?? null;
}

/** The row `step` away from `id` (J/K), staying within the list; the first when none is open. */
export function moveFrom(rows: { id: number }[], id: number | null, step: 1 | -1): number | null {
  if (rows.length === 0) return null;
  const at = rows.findIndex((r) => r.id === id);
  if (at < 0) return rows[0]!.id;
  return rows[Math.min(rows.length - 1, Math.max(0, at + step))]!.id;
}

/** Whether a key press goes to something that takes text (a field, a text area, a list box's
 * type-ahead), where a letter is a letter and never a shortcut. */
export function isTyping(target: EventTarget | null): boolean {
  const el = target as { tagName?: string; isContentEditable?: boolean; type?: string } | null;
  if (!el || typeof el.tagName !== "string") return false;
  const tag = el.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select" || el.isContentEditable) return true;
  if (tag !== "input") return false;
  return !["button", "checkbox", "radio", "submit", "reset", "color", "file", "range"].includes(el.type ?? "text");
}
