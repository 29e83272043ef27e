// V8's JSON.parse on the body bench_rpc_json wrote, for comparison.
//
// node rpc_json_parse.js FILE
//     prints `rpc_json_v8_parse: N MB/s` (best of 20 parses after a warm-up).
// node rpc_json_parse.js FILE --serve
//     warms up, prints "ready", then for each line N read on stdin parses the
//     body N times and prints the N durations in seconds on one line. This
//     is how bench_rpc_json interleaves V8's passes with its own in one run.
"use strict";
const fs = require("fs");
const text = fs.readFileSync(process.argv[2], "utf8");

function once() {
  const t0 = process.hrtime.bigint();
  const o = JSON.parse(text);
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!o.result) throw new Error("no result");
  return dt;
}

for (let i = 0; i < 5; i++) once();
if (process.argv[3] === "--serve") {
  process.stdout.write("ready\n");
  let pending = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    pending += chunk;
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const n = Math.min(Math.max(parseInt(pending.slice(0, nl), 10) || 0, 0), 1000);
      pending = pending.slice(nl + 1);
      const times = [];
      for (let i = 0; i < n; i++) times.push(once());
      process.stdout.write(times.join(" ") + "\n");
    }
  });
} else {
  let best = Infinity;
  for (let i = 0; i < 20; i++) best = Math.min(best, once());
  console.log(`rpc_json_v8_parse: ${Math.round(text.length / 1e6 / best)} MB/s`);
}
