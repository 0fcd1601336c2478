// Installs the packed switchyard-wasm tarball into tests/wasm/.scratch/app the way a user
// would (`npm install <tarball>`), once per tarball. scripts/test-wasm runs this before the tests.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { APP, sha256, tarball } from "./common.js";

const tgz = tarball();
const marker = join(APP, ".installed-from");
const hash = sha256(tgz);
if (existsSync(marker) && readFileSync(marker, "utf8") === hash) {
  console.log(`switchyard-wasm already installed from ${tgz}`);
} else {
  rmSync(APP, { recursive: true, force: true });
  mkdirSync(APP, { recursive: true });
  writeFileSync(join(APP, "package.json"), JSON.stringify({ name: "scratch-app", private: true, type: "module" }, null, 2));
  writeFileSync(join(APP, ".npmrc"), "package-lock=false\nfund=false\naudit=false\n");
  execFileSync("npm", ["install", "--no-package-lock", "--loglevel=error", tgz], { cwd: APP, stdio: "inherit" });
  writeFileSync(marker, hash);
  console.log(`installed switchyard-wasm from ${tgz} into ${APP}`);
}
