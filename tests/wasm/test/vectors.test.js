// The shared vectors (tests/vectors/*.json): the package answers exactly what the core
// answers natively (core/tests/vectors.rs checks the native side), with `now` as a Date and
// as milliseconds, in both builds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { builds } from "../lib/builds.js";
import { CLASS_VECTORS, DEFAULT_NOW, call, isClass, vectorFiles } from "../lib/common.js";

const pkgs = await builds();
const files = vectorFiles();

test("there are vectors for every exported function and class", () => {
  const fns = new Set(files.flatMap((f) => f.vectors.map((v) => v.fn)));
  const exported = Object.keys(pkgs.node).filter((n) => typeof pkgs.node[n] === "function");
  const functions = exported.filter((n) => !isClass(pkgs.node[n]));
  const classes = exported.filter((n) => isClass(pkgs.node[n]));
  assert.ok(functions.length > 0);
  for (const name of functions) assert.ok(fns.has(name), name);
  // A class's vectors are call sequences (test/tracker.test.js runs them).
  assert.deepEqual(classes.sort(), Object.keys(CLASS_VECTORS).sort());
});

for (const { file, vectors } of files) {
  for (const [build, pkg] of Object.entries(pkgs)) {
    test(`${file} (${build} build): ${vectors.length} vectors`, () => {
      const failures = [];
      for (const v of vectors) {
        const now = v.now ?? DEFAULT_NOW;
        for (const n of [new Date(now), Date.parse(now)]) {
          try {
            assert.deepStrictEqual(call(pkg, v.fn, v.input, n), v.expect);
          } catch (e) {
            failures.push(`${v.name} (now as ${typeof n}): ${e.message}`);
          }
        }
      }
      assert.equal(failures.length, 0, failures.slice(0, 10).join("\n\n"));
    });
  }
}
