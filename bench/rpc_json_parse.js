// V8's JSON.parse on the body bench_rpc_json wrote, for comparison.
// Prints `rpc_json_v8_parse: N MB/s` (best of 20 runs after a warm-up).
"use strict";
const fs = require("fs");
const text = fs.readFileSync(process.argv[2], "utf8");
for (let i = 0; i < 5; i++) JSON.parse(text);
let best = Infinity;
for (let i = 0; i < 20; i++) {
  const t0 = process.hrtime.bigint();
  const o = JSON.parse(text);
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!o.result) throw new Error("no result");
  if (dt < best) best = dt;
}
console.log(`rpc_json_v8_parse: ${Math.round(text.length / 1e6 / best)} MB/s`);
