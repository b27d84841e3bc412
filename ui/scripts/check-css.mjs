// Fails when a stylesheet has an unclosed or stray brace. CSS nesting makes such a slip silently
// nest every later rule inside the open one (it once hid the Nango form's grid), and neither Vite nor
// svelte-check reports it.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

function stylesheets(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? stylesheets(join(dir, e.name)) : e.name.endsWith(".css") ? [join(dir, e.name)] : [],
  );
}

let failed = false;
for (const file of stylesheets("src")) {
  // Comments and strings may hold braces; drop them first.
  const blank = (m) => m.replace(/[^\n]/g, "");
  const text = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, blank).replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, blank);
  let depth = 0;
  let line = 1;
  const open = [];
  for (const ch of text) {
    if (ch === "\n") line++;
    else if (ch === "{") open.push(line), depth++;
    else if (ch === "}") {
      if (depth === 0) {
        console.error(`${file}:${line}: a "}" closes nothing`);
        failed = true;
      } else open.pop(), depth--;
    }
  }
  // A rule block holding another rule block is nesting; this project's CSS does not nest (only @media
  // and the like hold rules), so an open block at the end is a missing "}".
  if (depth > 0) {
    console.error(`${file}: ${depth} block(s) never closed; the first opened on line ${open[0]}`);
    failed = true;
  }
}
if (failed) process.exit(1);
