// The template picker's search (`matchTemplates`): run by `scripts/ui-tests`.
import assert from "node:assert/strict";
import { test } from "node:test";
import { matchTemplates } from "./filter";
import type { SavedTemplate } from "../backend";

const saved: SavedTemplate[] = [
  { id: 1, name: "Closed today", text: "We are closed today, {first_name}" },
  { id: 2, name: "Order ready", text: "Hi {first_name}, your order is ready at {line}" },
  { id: 3, name: "Relance", text: "Votre commande est prête" },
];

function check(query: string, expected: string[]) {
  assert.deepEqual(matchTemplates(saved, query).map((t) => t.name), expected, query);
}

test("an empty search lists every template in its order", () => {
  check("", ["Closed today", "Order ready", "Relance"]);
  check("   ", ["Closed today", "Order ready", "Relance"]);
});

test("every word is looked for in the name or the text, whatever the case and accents", () => {
  check("order", ["Order ready"]);
  check("READY line", ["Order ready"]);
  check("prete", ["Relance"]);
  check("first_name", ["Closed today", "Order ready"]);
  check("nothing like it", []);
});

test("names that start with the search come first", () => {
  check("o", ["Order ready", "Closed today", "Relance"]);
});
