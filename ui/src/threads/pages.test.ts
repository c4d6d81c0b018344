// The loaded history's rules (pages.ts), case by case: run by `scripts/ui-tests`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { afterNewest, withOlderPage, type Older, type Placed } from "./pages";

const PAGE = 4;
/** Messages `from`..=`to`, one a second, oldest first; ids follow time. */
const range = (from: number, to: number): Placed[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ id: from + i, created_at: (from + i) * 1000 }));
const ids = (o: Older<Placed>) => ({ older: o.older.map((m) => m.id), start: o.start });
const none: Older<Placed> = { older: [], start: false };

test("a thread shorter than a page is whole, with nothing older", () => {
  assert.deepEqual(ids(afterNewest(none, [], range(1, 3), PAGE)), { older: [], start: true });
});

test("messages pushed out of the newest page move to the older pages", () => {
  const first = afterNewest(none, [], range(5, 8), PAGE);
  assert.deepEqual(ids(first), { older: [], start: false });
  // Two arrive: 5 and 6 leave the newest page and stay on screen, above it.
  assert.deepEqual(ids(afterNewest(first, range(5, 8), range(7, 10), PAGE)), {
    older: [5, 6],
    start: false,
  });
  // A whole thread grown past a page keeps knowing it reaches the start.
  const whole = afterNewest(none, [], range(1, 3), PAGE);
  assert.deepEqual(ids(afterNewest(whole, range(1, 3), range(2, 5), PAGE)), {
    older: [1],
    start: true,
  });
});

test("a burst of more than a page lets the older pages go rather than leave a gap", () => {
  const kept: Older<Placed> = { older: range(1, 4), start: true };
  // 5..8 was the newest page; 9..16 came in at once and the page is now 13..16: 9..12 were never
  // loaded, so 1..8 above them would hide a gap.
  assert.deepEqual(ids(afterNewest(kept, range(5, 8), range(13, 16), PAGE)), {
    older: [],
    start: false,
  });
});

test("a message deleted from the newest page is not held twice when the page reaches back", () => {
  const kept: Older<Placed> = { older: range(1, 4), start: true };
  const previous = range(5, 8);
  // 6 is deleted: the newest page is now 4, 5, 7, 8 — 4 was in the older pages.
  const page = [...range(4, 5), ...range(7, 8)];
  const next = afterNewest(kept, previous, page, PAGE);
  assert.deepEqual(ids(next), { older: [1, 2, 3], start: true });
  const all = [...next.older, ...page].map((m) => m.id);
  assert.equal(new Set(all).size, all.length, `once each: ${all}`);
});

test("an older page goes on top, without what is already shown", () => {
  const kept: Older<Placed> = { older: range(5, 6), start: false };
  const shown = range(5, 10);
  // The engine answers newest first; 5 is shown already (a page read across an arrival).
  const page = range(2, 5).reverse();
  assert.deepEqual(ids(withOlderPage(kept, shown, page, PAGE)), { older: [2, 3, 4, 5, 6], start: false });
  assert.deepEqual(ids(withOlderPage(kept, shown, range(1, 2).reverse(), PAGE)), {
    older: [1, 2, 5, 6],
    start: true,
  });
});
