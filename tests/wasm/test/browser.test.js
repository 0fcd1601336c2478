// The package in a real browser (headless Debian Chromium): a plain page importing the ES
// module entry straight from node_modules, running every shared vector and the tracker's; a
// Vite build of a tiny page that imports the package and prints a validation result; and the
// Vite dev server.
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { serve, openBrowser } from "../lib/browser.js";
import {
  APP,
  CLASS_VECTORS,
  DEFAULT_NOW,
  HERE,
  PUBLIC_EXPORTS,
  ROOT,
  installedPackage,
  reviveMacros,
  runTrackerCase,
  vectorFiles,
} from "../lib/common.js";

installedPackage();
let browser;
before(async () => {
  browser = await openBrowser();
});
after(async () => {
  await browser?.close();
});

// The call helper, as page code (it runs in the browser).
const CALL = `
  window.call = (fn, input, now) => {
    const f = window.sw[fn];
    if (fn.startsWith("validate")) return f(input, now);
    try { return { ok: true, value: f(input) }; }
    catch (e) {
      if (!(e instanceof Error) || e.name !== "SwitchyardError") throw e;
      return { ok: false, error: { code: e.code, message: e.message } };
    }
  };`;

test("a plain page imports the ES module entry and gives the vectors' answers", async () => {
  const page = join(APP, "plain");
  mkdirSync(page, { recursive: true });
  writeFileSync(
    join(page, "index.html"),
    `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>plain</title>
<script type="module">
  import * as sw from "/node_modules/switchyard-wasm/index.js";
  window.sw = sw;${CALL}
  const r = sw.validateMeterReading({ reading: NaN, timestamp: "2024-01-15T10:00:00Z", unit: "kWh" });
  document.body.textContent = JSON.stringify(r);
  window.ready = true;
</script>`,
  );
  const server = await serve(APP);
  try {
    await browser.page.goto(`${server.url}/plain/`);
    await browser.page.waitForFunction(() => window.ready === true, null, { timeout: 15000 });
    const text = await browser.page.textContent("body");
    assert.deepEqual(JSON.parse(text).errors[0].code, "not_finite");
    // The ES entry itself (Node's `import` gets the CommonJS one): only the public exports,
    // not wasm-bindgen's initSync nor the crate's __ helpers. A namespace lists its names sorted.
    assert.deepEqual(await browser.page.evaluate(() => Object.keys(window.sw)), PUBLIC_EXPORTS);
    // Its constants are the Node entry's, and frozen.
    const cjs = createRequire(join(APP, "package.json"))("switchyard-wasm");
    for (const name of PUBLIC_EXPORTS.filter((n) => typeof cjs[n] !== "function")) {
      const [value, frozen] = await browser.page.evaluate((n) => [window.sw[n], Object.isFrozen(window.sw[n])], name);
      assert.deepEqual(value, cjs[name], name);
      assert.equal(frozen, true, name);
    }

    // Vectors go in as file text and answers come back as JSON text (-0 marked), so that
    // no harness serialisation touches the values (a "__proto__" key, NaN, -0).
    const failures = [];
    for (const { file, vectors } of vectorFiles()) {
      const text = readFileSync(join(ROOT, "tests", "vectors", file), "utf8");
      const answers = await browser.page.evaluate(
        ([text, reviver, defaultNow]) => {
          const revive = new Function(`return ${reviver}`)();
          const { vectors } = JSON.parse(text, revive);
          const answers = vectors.map((v) => window.call(v.fn, v.input, new Date(v.now ?? defaultNow)));
          return JSON.stringify(answers, (_k, v) => (Object.is(v, -0) ? { $negativeZero: true } : v));
        },
        [text, reviveMacros.toString(), DEFAULT_NOW],
      );
      const results = JSON.parse(answers, (_k, v) => (v && v.$negativeZero === true ? -0 : v));
      vectors.forEach((v, i) => {
        try {
          assert.deepStrictEqual(results[i], v.expect);
        } catch (e) {
          failures.push(`${file}: ${v.name}: ${e.message}`);
        }
      });
    }
    // The StreamTracker's call sequences, the same way (no macros in them).
    const trackerText = readFileSync(CLASS_VECTORS.StreamTracker, "utf8");
    const trackerAnswers = JSON.parse(
      await browser.page.evaluate(
        ([text, run]) => {
          const runCase = new Function(`return ${run}`)();
          return JSON.stringify(JSON.parse(text).cases.map((c) => runCase(window.sw, c.steps)));
        },
        [trackerText, runTrackerCase.toString()],
      ),
    );
    JSON.parse(trackerText).cases.forEach((c, i) => {
      const want = c.steps.map((s) => ("throws" in s ? { throws: s.throws } : { returns: s.returns }));
      try {
        assert.deepStrictEqual(trackerAnswers[i], want);
      } catch (e) {
        failures.push(`tracker: ${c.name}: ${e.message}`);
      }
    });
    assert.equal(failures.length, 0, failures.slice(0, 5).join("\n\n"));
    assert.deepEqual(browser.logs.filter((l) => /error|warn/i.test(l)), []);
  } finally {
    await server.close();
  }
});

test("a Vite build of a page that imports the package runs and prints a validation result", async () => {
  const root = join(APP, "vite-page");
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  writeFileSync(
    join(root, "index.html"),
    `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>vite</title><pre id="out"></pre><script type="module" src="./main.js"></script>`,
  );
  writeFileSync(
    join(root, "main.js"),
    `import { meterRoom, validateMeterReading, EVENTS } from "switchyard-wasm";
const result = validateMeterReading({ reading: 12.5, timestamp: "2024-01-15T11:04:59+01:00", unit: "kWh" }, new Date("2024-01-15T10:00:00Z"));
const line = JSON.stringify({ room: meterRoom("MTR-7"), event: EVENTS.METER_READING, result });
console.log("validation: " + line);
document.getElementById("out").textContent = line;
`,
  );
  const { build } = await import(createRequire(join(HERE, "package.json")).resolve("vite"));
  await build({ root, logLevel: "warn", configFile: false, build: { outDir: join(root, "dist"), emptyOutDir: true } });
  const assets = readdirSync(join(root, "dist", "assets"));
  assert.ok(assets.some((f) => f.endsWith(".wasm")), `the .wasm is emitted as an asset: ${assets}`);

  const server = await serve(join(root, "dist"));
  try {
    await browser.page.goto(`${server.url}/`);
    await browser.page.waitForFunction(() => document.getElementById("out")?.textContent, null, { timeout: 15000 });
    const out = JSON.parse(await browser.page.textContent("#out"));
    assert.deepStrictEqual(out, {
      room: "meter_MTR-7",
      event: "meter_reading",
      result: { ok: true, value: { reading: 12.5, timestamp: "2024-01-15T10:04:59.000Z", unit: "kWh" } },
    });
    assert.ok(browser.logs.some((l) => l.startsWith("log: validation: ")), browser.logs.join("\n"));
  } finally {
    await server.close();
  }
});

test("the Vite dev server serves the same page (no config needed)", async () => {
  const root = join(APP, "vite-page"); // written by the build test above
  const { createServer } = await import(createRequire(join(HERE, "package.json")).resolve("vite"));
  const server = await createServer({ root, configFile: false, logLevel: "error", server: { host: "127.0.0.1", port: 0 } });
  await server.listen();
  try {
    await browser.page.goto(server.resolvedUrls.local[0]);
    await browser.page.waitForFunction(() => document.getElementById("out")?.textContent, null, { timeout: 30000 });
    const out = JSON.parse(await browser.page.textContent("#out"));
    assert.equal(out.result.ok, true);
    assert.equal(out.result.value.timestamp, "2024-01-15T10:04:59.000Z");
  } finally {
    await server.close();
  }
});
