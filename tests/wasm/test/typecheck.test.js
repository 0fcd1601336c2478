// The shipped TypeScript types: typecheck.ts must compile with `tsc --noEmit` (strict, no
// skipLibCheck) under Node's resolution (index.d.cts) and a bundler's (index.d.ts), and every
// `@ts-expect-error` in it must be needed. Both type entries declare exactly the public values.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { APP, HERE, PUBLIC_EXPORTS, installedPackage } from "../lib/common.js";

installedPackage();
const tsc = createRequire(join(HERE, "package.json")).resolve("typescript/bin/tsc");

const configs = {
  nodenext: { module: "nodenext", moduleResolution: "nodenext", lib: ["es2022"] },
  bundler: { module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"] },
};

for (const [name, options] of Object.entries(configs)) {
  test(`typecheck.ts compiles (${name} resolution)`, () => {
    const dir = join(APP, `typecheck-${name}`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(HERE, "typecheck.ts"), join(dir, "typecheck.ts"));
    const tsconfig = {
      compilerOptions: { ...options, target: "es2022", strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ["typecheck.ts"],
    };
    writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig, null, 2));
    let out = "";
    try {
      out = execFileSync(process.execPath, [tsc, "-p", dir], { encoding: "utf8" });
    } catch (e) {
      out = `${e.stdout}${e.stderr}`;
      assert.fail(`tsc failed:\n${out}`);
    }
    assert.equal(out.trim(), "");
  });
}

test("index.d.ts and index.d.cts declare exactly the public values, the same as the entries", async () => {
  const ts = (await import(createRequire(join(HERE, "package.json")).resolve("typescript"))).default;
  const dir = installedPackage();
  for (const file of ["index.d.ts", "index.d.cts"]) {
    const path = join(dir, file);
    const program = ts.createProgram([path], { strict: true, noEmit: true, lib: ["lib.es2022.d.ts"], types: [] });
    const checker = program.getTypeChecker();
    const module = checker.getSymbolAtLocation(program.getSourceFile(path));
    assert.ok(module, file);
    const values = checker
      .getExportsOfModule(module)
      .filter((s) => (ts.skipAlias(s, checker).flags & ts.SymbolFlags.Value) !== 0)
      .map((s) => s.name)
      .sort();
    assert.deepEqual(values, PUBLIC_EXPORTS, file);
  }
});

test("the types reject a wrong field (tsc reports it without @ts-expect-error)", () => {
  const dir = join(APP, "typecheck-negative");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "bad.ts"),
    `import { validateMeterReading } from "switchyard-wasm";\nvalidateMeterReading({ reading: 1, timestamp: "t", unit: "kWh", colour: "red" });\n`,
  );
  const tsconfig = { compilerOptions: { ...configs.bundler, target: "es2022", strict: true, noEmit: true }, files: ["bad.ts"] };
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify(tsconfig));
  let out = "";
  try {
    execFileSync(process.execPath, [tsc, "-p", dir], { encoding: "utf8" });
  } catch (e) {
    out = `${e.stdout}`;
  }
  assert.match(out, /colour/);
  assert.match(out, /TS2353|TS2345/);
});
