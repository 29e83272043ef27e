// ethers v6 Interface.parseLog on the logs bench_abi wrote (one JSON object
// per line), for comparison. Prints `abi_ethers_parselog: N logs/s`.
// usage: NODE_PATH=tests/node/node_modules node abi_ethers.js LOGS_FILE
"use strict";
const { ethers } = require("ethers");
const fs = require("fs");

const iface = new ethers.Interface([
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)",
  "event Tagged(uint256 indexed id, string label, bytes32[] hashes)",
]);
const logs = fs.readFileSync(process.argv[2], "utf8").trim().split("\n").map((l) => JSON.parse(l));
// Warm the JIT, then time one pass over every log (a pass takes seconds).
for (const l of logs.slice(0, 5000)) iface.parseLog(l);
let best = Infinity, failed = 0;
for (let rep = 0; rep < 1; rep++) {
  const t0 = process.hrtime.bigint();
  for (const l of logs) {
    const d = iface.parseLog(l);
    if (!d) failed++;
  }
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (dt < best) best = dt;
}
console.log(`abi_ethers_parselog: ${Math.round(logs.length / best)} logs/s`);
if (failed) console.log(`abi_ethers_failed: ${failed} logs`);
