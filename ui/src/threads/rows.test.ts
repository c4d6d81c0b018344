// The list's rows kept across reloads (rows.ts): run by `scripts/ui-tests`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { keepUnchanged } from "./rows";

test("a reload gives back the rows that did not change and the new objects of those that did", () => {
  const a = { id: 1, preview: "Hi", unread: 0 };
  const b = { id: 2, preview: "Ok", unread: 0 };
  const fresh = [{ id: 2, preview: "Ok, see you", unread: 1 }, { id: 1, preview: "Hi", unread: 0 }, { id: 3, preview: "New", unread: 1 }];
  const kept = keepUnchanged([a, b], fresh);
  assert.equal(kept[1], a, "unchanged: the same object, so its row stays");
  assert.equal(kept[0], fresh[0], "changed: the new one");
  assert.equal(kept[2], fresh[2], "new: the new one");
  assert.deepEqual(kept, fresh, "in the new order, with the new contents");
});
