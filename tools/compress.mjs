// Writes precompressed siblings (`.br`, `.gz`) of each file given: `node compress.mjs FILE…`.
//
// Node's zlib, not the brotli/gzip command-line tools, so the build needs nothing beyond Node;
// brotli quality 11 and gzip level 9, since these files are compressed once and served often.
import { readFileSync, writeFileSync } from "node:fs";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

for (const file of process.argv.slice(2)) {
  const data = readFileSync(file);
  const text = !file.endsWith(".wasm");
  writeFileSync(
    file + ".br",
    brotliCompressSync(data, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
        [constants.BROTLI_PARAM_LGWIN]: constants.BROTLI_MAX_WINDOW_BITS,
        [constants.BROTLI_PARAM_MODE]: text ? constants.BROTLI_MODE_TEXT : constants.BROTLI_MODE_GENERIC,
        [constants.BROTLI_PARAM_SIZE_HINT]: data.length,
      },
    }),
  );
  writeFileSync(file + ".gz", gzipSync(data, { level: 9 }));
}
