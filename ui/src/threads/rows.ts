// The conversation list's rows across reloads (pure: tested in rows.test.ts).

/** `fresh`, with each thread that did not change given back as the object `old` had for it: the
 * list keeps the rows of those (`<For>` keys by object) and draws anew only the rows that
 * changed, so a reload after an event costs the rows it touched, not a screenful. */
export function keepUnchanged<T extends { id: unknown }>(old: T[], fresh: T[]): T[] {
  const before = new Map(old.map((t) => [t.id, t]));
  return fresh.map((t) => {
    const o = before.get(t.id);
    return o && JSON.stringify(o) === JSON.stringify(t) ? o : t;
  });
}

