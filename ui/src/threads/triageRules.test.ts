// Triage's pure logic (triageRules.ts): run by `scripts/ui-tests`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isTyping, jumpMatches, localInputValue, moveFrom, nextAfter, pickedTime, snoozeChoices } from "./triageRules";

const row = (id: number, display: string, counterpart: string) => ({
  id,
  display,
  counterpart,
  counterpart_display: counterpart,
});

test("snooze choices: later today while the day lasts, and tomorrow at eight", () => {
  const morning = new Date(2026, 11, 1, 9, 20);
  const [later, tomorrow] = snoozeChoices(morning);
  assert.equal(later!.until, new Date(2026, 11, 1, 13, 0).getTime());
  assert.match(later!.label, /^Later today, /);
  assert.equal(tomorrow!.until, new Date(2026, 11, 2, 8, 0).getTime());
  assert.match(tomorrow!.label, /^Tomorrow morning, /);
  const evening = snoozeChoices(new Date(2026, 11, 31, 21, 5));
  assert.equal(evening.length, 1, "no 'later today' at night");
  assert.equal(evening[0]!.until, new Date(2027, 0, 1, 8, 0).getTime(), "across the year's end");
});

test("a picked time is read in the local zone, and nonsense is no time", () => {
  assert.equal(pickedTime("2026-12-01T15:00"), new Date(2026, 11, 1, 15, 0).getTime());
  assert.equal(pickedTime(localInputValue(new Date(2026, 5, 3, 7, 45).getTime())), new Date(2026, 5, 3, 7, 45).getTime());
  for (const bad of ["", "2026-12-01", "2026-02-30T10:00", "tomorrow"]) assert.equal(pickedTime(bad), null, bad);
});

test("the jump box finds conversations by name words or number digits, best first", () => {
  const rows = [
    row(1, "Grace Hopper", "+14155550124"),
    row(2, "Ada Lovelace", "+14155550123"),
    row(3, "+44 7700 900123", "+447700900123"),
    row(4, "Lovelace Ltd", "+14155550199"),
  ];
  const ids = (q: string) => jumpMatches(rows, q).map((r) => r.id);
  assert.deepEqual(ids("ada"), [2]);
  assert.deepEqual(ids("love"), [4, 2], "a name starting with it first");
  assert.deepEqual(ids("ada love"), [2]);
  assert.deepEqual(ids("0123"), [2, 3]);
  assert.deepEqual(ids("(415) 555-0124"), [1]);
  assert.deepEqual(ids("12"), [], "two digits are too few to mean a number");
  assert.deepEqual(ids("   "), []);
  assert.deepEqual(ids("zed"), []);
  assert.equal(jumpMatches(rows, "4", 2).length, 0);
  assert.equal(jumpMatches([...rows, ...rows], "l", 8).length, 2, "each conversation once");
});

test("moving through the list and what opens when a conversation leaves it", () => {
  const rows = [{ id: 1 }, { id: 2 }, { id: 3 }];
  assert.equal(moveFrom(rows, null, 1), 1);
  assert.equal(moveFrom(rows, 1, 1), 2);
  assert.equal(moveFrom(rows, 3, 1), 3, "stays at the end");
  assert.equal(moveFrom(rows, 1, -1), 1, "stays at the start");
  assert.equal(moveFrom([], null, 1), null);
  assert.equal(nextAfter(rows, 2), 3);
  assert.equal(nextAfter(rows, 3), 2);
  assert.equal(nextAfter([{ id: 3 }], 3), null);
  assert.equal(nextAfter(rows, 9), 1);
});

test("letters in text fields are typing, not shortcuts", () => {
  assert.equal(isTyping({ tagName: "TEXTAREA" } as unknown as EventTarget), true);
  assert.equal(isTyping({ tagName: "INPUT", type: "search" } as unknown as EventTarget), true);
  assert.equal(isTyping({ tagName: "INPUT", type: "checkbox" } as unknown as EventTarget), false);
  assert.equal(isTyping({ tagName: "SELECT" } as unknown as EventTarget), true);
  assert.equal(isTyping({ tagName: "DIV", isContentEditable: true } as unknown as EventTarget), true);
  assert.equal(isTyping({ tagName: "BUTTON" } as unknown as EventTarget), false);
  assert.equal(isTyping(null), false);
});
