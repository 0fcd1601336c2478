// The random parity corpus: seeded random inputs with the core's native answers, written by
// core/tests/vectors.rs (`parity_corpus`, SWITCHYARD_PARITY_CORPUS=<file>; scripts/test-wasm
// does it). Every case through both builds, compared field for field.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { builds } from "../lib/builds.js";
import { CORPUS, call, reviveMacros } from "../lib/common.js";

test("random inputs: the package answers what the core answers", async () => {
  assert.ok(existsSync(CORPUS), `${CORPUS} is missing: run scripts/test-wasm (it writes the corpus)`);
  const corpus = JSON.parse(readFileSync(CORPUS, "utf8"), reviveMacros);
  assert.equal(corpus.cases.length, corpus.count);
  const pkgs = await builds();
  const started = performance.now();
  const failures = [];
  const seen = {};
  for (const [i, c] of corpus.cases.entries()) {
    seen[c.fn] = (seen[c.fn] ?? 0) + 1;
    for (const [build, pkg] of Object.entries(pkgs)) {
      try {
        assert.deepStrictEqual(call(pkg, c.fn, c.input, new Date(c.now)), c.expect);
      } catch (e) {
        failures.push(`case ${i} ${c.fn} (${build}): ${e.message.slice(0, 1500)}`);
      }
    }
  }
  const ms = Math.round(performance.now() - started);
  console.log(`seed ${corpus.seed}: ${corpus.cases.length} cases x 2 builds in ${ms} ms; per function: ${JSON.stringify(seen)}`);
  assert.equal(failures.length, 0, `${failures.length} differences:\n${failures.slice(0, 5).join("\n\n")}`);
  assert.ok(Object.keys(seen).length >= 8, "the corpus covers the functions");
});
