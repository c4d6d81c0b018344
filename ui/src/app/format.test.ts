// The composer's live preview (`newestWins`): run by `scripts/ui-tests`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { newestWins } from "./format";

/** A call whose answer the test gives when it wants. */
function controlled() {
  const calls: { state: string; answer: (v: string) => void; fail: (e: unknown) => void }[] = [];
  let state = "";
  const f = () =>
    new Promise<string>((answer, fail) => {
      calls.push({ state, answer, fail });
    });
  return { calls, f, set: (s: string) => (state = s) };
}

test("a keystroke asks at once, with no timer between it and the call", () => {
  const c = controlled();
  const ask = newestWins(c.f, () => undefined, () => undefined);
  c.set("H");
  void ask();
  assert.equal(c.calls.length, 1, "called in the same turn as the keystroke");
  assert.equal(c.calls[0]!.state, "H");
});

test("keystrokes while a call is out make one more call, for the newest state", async () => {
  const c = controlled();
  const applied: string[] = [];
  const ask = newestWins(c.f, (r) => applied.push(r), () => undefined);
  c.set("H");
  const first = ask();
  for (const s of ["He", "Hel", "Hell"]) {
    c.set(s);
    void ask();
  }
  assert.equal(c.calls.length, 1, "one call at a time");
  c.calls[0]!.answer("for H");
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(c.calls.length, 2);
  assert.equal(c.calls[1]!.state, "Hell", "the second call reads the state as it is then");
  c.calls[1]!.answer("for Hell");
  await first;
  assert.deepEqual(applied, ["for H", "for Hell"], "in order, the last for the last keystroke");
});

test("a failed call is reported and the next keystroke still asks", async () => {
  const c = controlled();
  const failures: unknown[] = [];
  const ask = newestWins(c.f, () => undefined, (e) => failures.push(e));
  const first = ask();
  c.calls[0]!.fail(new Error("store busy"));
  await first;
  assert.equal(failures.length, 1);
  void ask();
  assert.equal(c.calls.length, 2);
});
