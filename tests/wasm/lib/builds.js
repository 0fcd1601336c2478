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
  const web = await webGlue();
  // What index.js exports: public.js (the validators through convert.js's fastValidator) and
  // the constants, which index.js makes from __constants().
  const pub = await import(pathToFileURL(join(dir, "web", "public.js")).href);
  return { node, web: { ...pub, ...web.__constants() } };
}

/** Each build's wasm-bindgen module itself: the validators without the package's fast path. */
export async function glues() {
  const dir = installedPackage();
  return { node: createRequire(join(APP, "package.json"))(join(dir, "node", "switchyard_wasm.js")), web: await webGlue() };
}

async function webGlue() {
  const dir = installedPackage();
  const web = await import(pathToFileURL(join(dir, "web", "switchyard_wasm.js")).href);
  web.initSync({ module: readFileSync(join(dir, "web", "switchyard_wasm_bg.wasm")) });
  return web;
}
