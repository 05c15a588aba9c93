// The package as users get it: its name resolves (package.json "exports"), and junban.d.ts
// declares exactly the values junban.js exports.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { test } from "node:test";

import * as byPath from "../junban.js";

test("the package name resolves to junban.js", async () => {
  const byName = await import("@junban/client");
  assert.equal(byName.JunbanClient, byPath.JunbanClient);
});

test("junban.d.ts declares every export of junban.js, and nothing more", async () => {
  const source = await readFile(new URL("../junban.d.ts", import.meta.url), "utf8");
  const declared = [...source.matchAll(/^export declare (?:function|class|const) (\w+)/gm)];
  assert.deepEqual(declared.map((m) => m[1]).sort(), Object.keys(byPath).sort());
});
