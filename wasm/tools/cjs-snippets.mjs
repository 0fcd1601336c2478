// Rewrites the JS snippets of the nodejs build (node/snippets/**.js, copied by wasm-bindgen
// from the crate's `#[wasm_bindgen(module = ...)]` files) as CommonJS: the nodejs build
// `require`s them, and Node before 22 cannot require an ES module. scripts/build-wasm runs it.
// Snippets may only use `export function name(`: anything else stops the build, rather than
// shipping a module that fails to load.
//
//   node wasm/tools/cjs-snippets.mjs wasm/pkg
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

const root = join(resolve(process.argv[2] ?? "wasm/pkg"), "node", "snippets");
const files = readdirSync(root, { recursive: true }).filter((f) => f.endsWith(".js")).map((f) => join(root, f));
for (const file of files) {
  const names = [];
  const text = readFileSync(file, "utf8").replace(/^export function (\w+)\(/gm, (_, name) => {
    names.push(name);
    return `function ${name}(`;
  });
  const left = text.match(/^\s*(export|import)\b.*$/m);
  if (left) throw new Error(`${file}: only \`export function\` can be rewritten as CommonJS, found: ${left[0]}`);
  writeFileSync(file, `"use strict";\n${text}\n${names.map((n) => `exports.${n} = ${n};\n`).join("")}`);
}
console.log(`cjs-snippets: ${files.length} file(s) rewritten as CommonJS`);
