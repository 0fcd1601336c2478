// The package's two builds, loaded from the installed package: the Node entry (what
// `require`/`import` give in Node) and the web build (what browsers and bundlers get), the
// latter initialised from the bytes, as Node cannot fetch a file URL.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { APP, installedPackage } from "./common.js";

export async function builds() {
  const dir = installedPackage();
  const node = createRequire(join(APP, "package.json"))("switchyard-wasm");
  const web = await import(pathToFileURL(join(dir, "web", "switchyard_wasm.js")).href);
  web.initSync({ module: readFileSync(join(dir, "web", "switchyard_wasm_bg.wasm")) });
  // The web build has no constants of its own: index.js makes them from __constants().
  return { node, web: { ...web, ...web.__constants() } };
}
