// How a thread's loaded history changes as pages come in: the newest page is read again on every
// event of the thread, older pages are added at the top as the person scrolls there. Pure, so
// that every case (a burst of more than a page, a message deleted from the newest page) is
// tested on its own (pages.test.ts).

/** What the engine orders a thread by: time, then id. */
export interface Placed {
  created_at: number;
  id: number;
}

/** The older pages (oldest first) and whether they reach the thread's first message. */
export interface Older<M> {
  older: M[];
  start: boolean;
}

/** Whether `a` comes before `c` in the thread (the engine's order: time, then id). */
export const before = (a: Placed, c: Placed) =>
  a.created_at < c.created_at || (a.created_at === c.created_at && a.id < c.id);

/** The older pages once the newest page was read again as `page` (oldest first, at most
 * `pageSize` messages): the messages it pushed out of `previous` (the newest page before) move to
 * the older pages rather than away from the screen, none is held twice, and none is skipped. */
export function afterNewest<M extends Placed>(
  kept: Older<M>,
  previous: M[],
  page: M[],
  pageSize: number,
): Older<M> {
  if (page.length < pageSize) return { older: [], start: true };
  const edge = page[0]!;
  const last = previous[previous.length - 1];
  if (last && before(last, edge)) {
    // More than a page came in since: what lies between was never loaded. Older pages kept
    // would leave a gap under them, so they are let go and read again from the new edge.
    return { older: [], start: false };
  }
  // Only what comes before the new page: a message deleted from the newest page lets the page
  // reach further back, over messages the older pages held.
  const older = kept.older.filter((m) => before(m, edge));
  const known = new Set(older.map((m) => m.id));
  const pushedOut = previous.filter((m) => before(m, edge) && !known.has(m.id));
  return { older: [...older, ...pushedOut], start: kept.start };
}

/** The older pages with the next older `page` (newest first, as the engine answers) added at
 * the top; `shown` are the messages already on screen. */
export function withOlderPage<M extends Placed>(
  kept: Older<M>,
  shown: M[],
  page: M[],
  pageSize: number,
): Older<M> {
  const known = new Set(shown.map((m) => m.id));
  const added = [...page].reverse().filter((m) => !known.has(m.id));
  return { older: [...added, ...kept.older], start: kept.start || page.length < pageSize };
}
