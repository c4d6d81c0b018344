// Which saved templates match what is typed in the picker's search: every word of the query in
// the name or the text, whatever the case and accents, names that start with the query first.
import type { SavedTemplate } from "../backend";

const fold = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

export function matchTemplates(all: SavedTemplate[], query: string): SavedTemplate[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  if (words.length === 0) return all;
  const hits = all.filter((t) => {
    const hay = `${fold(t.name)} ${fold(t.text)}`;
    return words.every((w) => hay.includes(w));
  });
  const head = fold(query.trim());
  const starts = (t: SavedTemplate) => (fold(t.name).startsWith(head) ? 0 : 1);
  return hits.map((t, i) => ({ t, i })).sort((a, b) => starts(a.t) - starts(b.t) || a.i - b.i).map((x) => x.t);
}
