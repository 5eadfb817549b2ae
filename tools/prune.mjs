// Removes what Leptos links into the widget but never uses.
//
// Leptos always enables server_fn's `browser` feature, and its wasm-streams dependency exports
// three JS classes (IntoUnderlyingSource, IntoUnderlyingSink, IntoUnderlyingByteSource). Their
// exports keep their code alive in the wasm, and wasm-bindgen writes the classes into the glue.
//
//   node prune.mjs exports IN.wasm OUT.wasm   drop those exports (wasm-opt then drops the code)
//   node prune.mjs glue GLUE.js FINAL.wasm    drop the classes, and every import function the
//                                             optimized wasm no longer imports, from the glue
import { readFileSync, writeFileSync } from "node:fs";

const UNUSED = /intounderlying/i;
const [command, first, second] = process.argv.slice(2);

function sections(bytes) {
  const leb = (at) => {
    let value = 0, shift = 0, byte;
    do {
      byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    } while (byte & 0x80);
    return [value, at];
  };
  const name = (at) => {
    const [length, start] = leb(at);
    return [bytes.subarray(start, start + length).toString("utf8"), start + length];
  };
  const list = [];
  for (let at = 8; at < bytes.length; ) {
    const [size, start] = leb(at + 1);
    list.push({ id: bytes[at], at, start, end: start + size });
    at = start + size;
  }
  return { list, leb, name };
}

function encodeLeb(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
}

function dropExports(input, output) {
  const bytes = readFileSync(input);
  const { list, leb, name } = sections(bytes);
  const parts = [bytes.subarray(0, 8)];
  let dropped = 0;
  for (const s of list) {
    if (s.id !== 7) {
      parts.push(bytes.subarray(s.at, s.end));
      continue;
    }
    let [count, p] = leb(s.start);
    const kept = [];
    for (let i = 0; i < count; i++) {
      const entry = p;
      const [exported, kindAt] = name(p);
      p = leb(kindAt + 1)[1];
      if (UNUSED.test(exported)) dropped++;
      else kept.push(bytes.subarray(entry, p));
    }
    const body = Buffer.concat([encodeLeb(kept.length), ...kept]);
    parts.push(Buffer.from([7]), encodeLeb(body.length), body);
  }
  writeFileSync(output, Buffer.concat(parts));
  console.log(`prune: dropped ${dropped} unused exports`);
}

function imports(wasm) {
  const bytes = readFileSync(wasm);
  const { list, leb, name } = sections(bytes);
  const names = new Set();
  for (const s of list.filter((s) => s.id === 2)) {
    let [count, p] = leb(s.start);
    for (let i = 0; i < count; i++) {
      const [, fieldAt] = name(p);
      const [field, kindAt] = name(fieldAt);
      names.add(field);
      const kind = bytes[kindAt];
      p = kindAt + 1;
      if (kind === 0) p = leb(p)[1];
      else if (kind === 1) p = leb(bytes[p + 1] & 1 ? leb(p + 2)[1] : p + 2)[1];
      else if (kind === 2) p = leb(bytes[p] & 1 ? leb(p + 1)[1] : p + 1)[1];
      else if (kind === 3) p += 2;
      else throw new Error(`prune: import kind ${kind} not understood`);
    }
  }
  return names;
}

function pruneGlue(glue, wasm) {
  const needed = imports(wasm);
  let js = readFileSync(glue, "utf8");
  js = js
    .replace(/^export class IntoUnderlying\w+ \{\n[\s\S]*?\n\}\n/gm, "")
    .replace(/^if \(Symbol\.dispose\) IntoUnderlying.*\n/gm, "")
    .replace(/^const IntoUnderlying\w+Finalization = [\s\S]*?;\n/gm, "");
  let removed = 0;
  js = js.replace(/^ {8}(\w+): function\(.*\) \{\n[\s\S]*?\n {8}\},?\n/gm, (entry, field) => {
    if (needed.has(field)) return entry;
    removed++;
    return "";
  });
  if (UNUSED.test(js)) throw new Error("prune: the glue still mentions the stream classes");
  for (const field of needed) {
    if (!js.includes(field)) throw new Error(`prune: the glue lost the import ${field}`);
  }
  writeFileSync(glue, js);
  console.log(`prune: dropped the stream classes and ${removed} unused imports from the glue`);
}

if (command === "exports") dropExports(first, second);
else if (command === "glue") pruneGlue(first, second);
else throw new Error("usage: prune.mjs exports IN OUT | prune.mjs glue GLUE WASM");
