// Generates ABI decoding cases with ethers v6, a second implementation of
// the contract ABI: random values for every type, encoded as logs and
// calldata, and ethers' own decoding of them, rendered the way chainscope
// prints them (integers as decimal strings, addresses lowercase, bytes 0x hex,
// tuples as objects keyed by component name, indexed dynamic values as their
// topic hash). Deterministic: the seed is the first argument.
//
// usage: NODE_PATH=tests/node/node_modules node abi_cases.js SEED OUT_DIR
"use strict";
const { ethers } = require("ethers");
const fs = require("fs");
const path = require("path");

let seed = BigInt(process.argv[2] || 1);
function rnd() {
  // xorshift64*
  seed ^= seed >> 12n;
  seed ^= (seed << 25n) & 0xffffffffffffffffn;
  seed ^= seed >> 27n;
  return (seed * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn;
}
function rint(n) {
  return Number(rnd() % BigInt(n));
}
function rbytes(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = rint(256);
  return b;
}
function rbig(bits) {
  let v = 0n;
  for (let i = 0; i < bits; i += 64) v = (v << 64n) | rnd();
  v &= (1n << BigInt(bits)) - 1n;
  // Favour edge values now and then.
  switch (rint(6)) {
    case 0: return 0n;
    case 1: return (1n << BigInt(bits)) - 1n;
    case 2: return v >> BigInt(rint(bits));
    default: return v;
  }
}
const words = ["", "a", "hello", "chainscope", "ünïcödé ✓", "🦊 fox", "x".repeat(70), "tab\tquote\"back\\slash"];

function randomValue(pt) {
  if (pt.baseType === "array") {
    const n = pt.arrayLength >= 0 ? pt.arrayLength : rint(4);
    const a = [];
    for (let i = 0; i < n; i++) a.push(randomValue(pt.arrayChildren));
    return a;
  }
  if (pt.baseType === "tuple") return pt.components.map(randomValue);
  const t = pt.type;
  let m;
  if ((m = /^uint(\d+)$/.exec(t))) return rbig(+m[1]);
  if ((m = /^int(\d+)$/.exec(t))) {
    const bits = +m[1];
    const u = rbig(bits);
    return ethers.fromTwos(u, bits);
  }
  if (t === "address") return ethers.getAddress(ethers.hexlify(rbytes(20)));
  if (t === "bool") return rint(2) === 1;
  if (t === "string") return words[rint(words.length)];
  if (t === "bytes") return ethers.hexlify(rbytes(rint(70)));
  if ((m = /^bytes(\d+)$/.exec(t))) return ethers.hexlify(rbytes(+m[1]));
  throw new Error("no generator for " + t);
}

// ethers' decoded value -> chainscope's JSON rendering.
function render(pt, v) {
  if (v instanceof ethers.Indexed) return v.hash;
  if (pt.baseType === "array") return Array.from(v).map((x) => render(pt.arrayChildren, x));
  if (pt.baseType === "tuple") {
    const o = {};
    pt.components.forEach((c, i) => (o[c.name || String(i)] = render(c, v[i])));
    return o;
  }
  if (typeof v === "bigint") return v.toString();
  if (pt.type === "address") return v.toLowerCase();
  if (pt.type === "bool" || pt.type === "string") return v;
  return ethers.hexlify(v);
}

const events = [
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event Swap(address indexed sender, uint256 amount0In, uint256 amount1In, uint256 amount0Out, uint256 amount1Out, address indexed to)",
  "event Ints(uint8 a, uint16 b, uint24 c, uint32 d, uint64 e, uint96 f, uint128 g, uint160 h, uint200 i, uint256 j)",
  "event SInts(int8 a, int16 b, int24 c, int32 d, int64 e, int72 f, int128 g, int192 h, int256 i, int256 indexed k)",
  "event Basics(bool ok, address who, bytes1 b1, bytes4 b4, bytes20 b20, bytes32 b32, bytes blob, string text)",
  "event Arrays(uint256[] nums, uint8[3] fixedNums, string[] texts, bytes[2] blobs, address[2][] pairs, uint256[][] nested, bool[] flags)",
  "event Tuples((uint256 amount, string memo) single, (address token, uint128 qty)[] orders, (uint8 kind, (bytes32 id, string[] tags) inner, int64[2] range) deep)",
  "event IndexedDyn(string indexed label, bytes indexed blob, (uint256 a, bool b) indexed pair, uint256 plain)",
  "event IndexedArr(uint256[] indexed nums, address[2] indexed pair, int8 indexed small, string text)",
  "event Unnamed(uint256, string, address indexed)",
  "event Mixed(string label, bytes32[] ids)",
  "event StaticTupleArr((uint64 x, uint64 y)[3] points, (bool f, bytes2 g)[] flags)",
];
const functions = [
  "function transfer(address to, uint256 amount)",
  "function everything(uint8 a, int256 b, address c, bool d, bytes12 e, bytes f, string g, uint256[] h, int8[2] i, (string s, uint256[] n)[] j, bytes32[][2] k)",
  "function nested(((uint256 a, string b)[] x, bytes y) z, string[][] w)",
];

// Human-readable fragments cannot say "anonymous": this one is JSON.
const anon = {
  type: "event", name: "Anon", anonymous: true,
  inputs: [
    { name: "a", type: "address", indexed: true },
    { name: "b", type: "uint256", indexed: true },
    { name: "c", type: "bytes32", indexed: true },
    { name: "d", type: "int16", indexed: true },
    { name: "note", type: "string", indexed: false },
  ],
};
const iface = new ethers.Interface([...events, anon, ...functions]);
const coder = ethers.AbiCoder.defaultAbiCoder();

// Encodes a log like a contract would (ethers' encodeEventLog cannot hash
// indexed arrays and tuples; their topic is any 32-byte hash to a decoder).
function encodeLog(ev, values) {
  const topics = ev.anonymous ? [] : [ev.topicHash];
  const types = [], vals = [];
  ev.inputs.forEach((p, i) => {
    if (!p.indexed) { types.push(p); vals.push(values[i]); return; }
    if (p.type === "string") topics.push(ethers.id(values[i]));
    else if (p.type === "bytes") topics.push(ethers.keccak256(values[i]));
    else if (p.baseType === "array" || p.baseType === "tuple") topics.push(ethers.hexlify(rbytes(32)));
    else topics.push(coder.encode([p], [values[i]]));
  });
  return { topics, data: coder.encode(types, vals) };
}
const outDir = process.argv[3];
fs.mkdirSync(outDir, { recursive: true });
// formatJson drops "indexed" from array parameters: put it back.
const abiJson = JSON.parse(iface.formatJson());
for (const e of abiJson) {
  if (e.type !== "event") continue;
  const frag = iface.getEvent(e.name);
  e.inputs.forEach((p, i) => (p.indexed = frag.inputs[i].indexed));
}
fs.writeFileSync(path.join(outDir, "abi.json"), JSON.stringify(abiJson));

const cases = [];
const rounds = +(process.env.ABI_ROUNDS || 4);
for (let r = 0; r < rounds; r++) {
  iface.forEachEvent((ev) => {
    const values = ev.inputs.map(randomValue);
    const { data, topics } = encodeLog(ev, values);
    const decoded = iface.decodeEventLog(ev, data, topics);
    const args = {};
    ev.inputs.forEach((p, i) => (args[p.name || String(i)] = render(p, decoded[i])));
    cases.push({ kind: "log", name: ev.name, topics, data, event: ev.anonymous ? ev.name : null,
                 expect: { event: ev.name, signature: ev.format("sighash"), args } });
  });
  iface.forEachFunction((fn) => {
    const values = fn.inputs.map(randomValue);
    const data = iface.encodeFunctionData(fn, values);
    const decoded = iface.decodeFunctionData(fn, data);
    const args = {};
    fn.inputs.forEach((p, i) => (args[p.name || String(i)] = render(p, decoded[i])));
    cases.push({ kind: "call", name: fn.name, data,
                 expect: { function: fn.name, signature: fn.format("sighash"), selector: fn.selector, args } });
  });
}
fs.writeFileSync(path.join(outDir, "cases.json"), JSON.stringify(cases));
process.stdout.write(String(cases.length) + "\n");
