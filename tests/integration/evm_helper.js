// Test helper for the EVM integration tests: compiles a contract with solc
// (npm), deploys it to a node with ethers, and sends transactions that emit
// events. Prints JSON on stdout.
//
//   node evm_helper.js compile OUTDIR            -> OUTDIR/Emitter.abi.json, .bin
//   node evm_helper.js deploy URL OUTDIR          -> {"address": ...}
//   node evm_helper.js send URL ADDRESS JSON      -> {"txs": [hash...], "blocks": [...]}
//       JSON: [["transfer", to, value], ["note", tag, text, [ids], delta],
//              ["place", id, [token, qty, memo], [[...]...]], ["anon", amount],
//              ["many", n]]
//   node evm_helper.js raw URL ADDRESS JSON BLOCK -> signed raw transactions (hex) for
//       the same calls, nonces continuing from the account's nonce at BLOCK (for
//       anvil_reorg, which rebuilds the chain from that block)
//   node evm_helper.js fill URL ADDRESS BLOCKS TXS -> BLOCKS blocks of TXS transfer()
//       calls each (one log per call), mined with evm_mine; {"first": N, "last": M}
//
// Run with NODE_PATH=tests/node/node_modules.
"use strict";
const fs = require("fs");
const path = require("path");
const { ethers } = require("ethers");

const SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Emitter {
    struct Order { address token; uint128 qty; string memo; }
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Note(string indexed tag, string text, bytes32[] ids, int64 delta);
    event Placed(uint256 indexed id, Order order, Order[] more);
    event Anon(address indexed who, uint256 amount) anonymous;
    function transfer(address to, uint256 value) external { emit Transfer(msg.sender, to, value); }
    function note(string calldata tag, string calldata text, bytes32[] calldata ids, int64 delta) external {
        emit Note(tag, text, ids, delta);
    }
    function place(uint256 id, Order calldata o, Order[] calldata more) external { emit Placed(id, o, more); }
    function anon(uint256 amount) external { emit Anon(msg.sender, amount); }
    function many(uint256 n) external {
        for (uint256 i = 0; i < n; i++) emit Transfer(msg.sender, address(uint160(i + 1)), i);
    }
}`;

function compile(outDir) {
  const solc = require("solc");
  const input = {
    language: "Solidity",
    sources: { "Emitter.sol": { content: SOURCE } },
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "paris",
                outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  for (const e of out.errors || []) if (e.severity === "error") throw new Error(e.formattedMessage);
  const c = out.contracts["Emitter.sol"].Emitter;
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "Emitter.abi.json"), JSON.stringify(c.abi));
  fs.writeFileSync(path.join(outDir, "Emitter.bin"), c.evm.bytecode.object);
  return { ok: true };
}

// The first account anvil creates from its default mnemonic.
const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

async function deploy(url, outDir) {
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
  const wallet = new ethers.Wallet(KEY, provider);
  const abi = JSON.parse(fs.readFileSync(path.join(outDir, "Emitter.abi.json"), "utf8"));
  const bin = fs.readFileSync(path.join(outDir, "Emitter.bin"), "utf8");
  const f = new ethers.ContractFactory(abi, bin, wallet);
  const c = await f.deploy();
  await c.waitForDeployment();
  return { address: (await c.getAddress()).toLowerCase(), from: wallet.address.toLowerCase() };
}

function calldata(iface, call) {
  const [fn, ...args] = call;
  return iface.encodeFunctionData(fn, args);
}

async function send(url, address, calls, raw, atBlock) {
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
  const wallet = new ethers.Wallet(KEY, provider);
  const iface = new ethers.Interface(SOURCE_ABI());
  let nonce = await provider.getTransactionCount(wallet.address,
                                                 raw ? ethers.toQuantity(BigInt(atBlock)) : "pending");
  const fee = await provider.getFeeData();
  const txs = [];
  for (const call of calls) {
    const tx = { to: address, data: calldata(iface, call), nonce: nonce++, gasLimit: 3000000,
                 chainId: (await provider.getNetwork()).chainId,
                 maxFeePerGas: fee.maxFeePerGas * 2n, maxPriorityFeePerGas: 1n };
    const signed = await wallet.signTransaction(tx);
    if (raw) { txs.push(signed); continue; }
    txs.push(await provider.send("eth_sendRawTransaction", [signed]));
  }
  return { txs };
}

function SOURCE_ABI() {
  return [
    "function transfer(address to, uint256 value)",
    "function note(string tag, string text, bytes32[] ids, int64 delta)",
    "function place(uint256 id, (address token, uint128 qty, string memo) o, (address token, uint128 qty, string memo)[] more)",
    "function anon(uint256 amount)",
    "function many(uint256 n)",
  ];
}

async function fill(url, address, blocks, perBlock) {
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
  const wallet = new ethers.Wallet(KEY, provider);
  const iface = new ethers.Interface(SOURCE_ABI());
  const chainId = (await provider.getNetwork()).chainId;
  let nonce = await provider.getTransactionCount(wallet.address, "pending");
  const fee = await provider.getFeeData();
  await provider.send("evm_setAutomine", [false]);
  const first = (await provider.getBlockNumber()) + 1;
  for (let b = 0; b < blocks; b++) {
    const batch = [];
    for (let i = 0; i < perBlock; i++) {
      const tx = { to: address, data: iface.encodeFunctionData("transfer", ["0x" + "00".repeat(19) + "01", BigInt(b * perBlock + i)]),
                   nonce: nonce++, gasLimit: 60000, chainId, maxFeePerGas: fee.maxFeePerGas * 4n,
                   maxPriorityFeePerGas: 1n };
      batch.push({ jsonrpc: "2.0", id: i, method: "eth_sendRawTransaction", params: [await wallet.signTransaction(tx)] });
    }
    const r = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(batch) });
    const out = await r.json();
    for (const x of out) if (x.error) throw new Error(JSON.stringify(x.error));
    await provider.send("evm_mine", []);
  }
  await provider.send("evm_setAutomine", [true]);
  return { first, last: await provider.getBlockNumber() };
}

(async () => {
  const [cmd, a, b, c, d] = process.argv.slice(2);
  let out;
  if (cmd === "compile") out = compile(a);
  else if (cmd === "deploy") out = await deploy(a, b);
  else if (cmd === "send") out = await send(a, b, JSON.parse(c), false);
  else if (cmd === "raw") out = await send(a, b, JSON.parse(c), true, d);
  else if (cmd === "fill") out = await fill(a, b, +c, +d);
  else throw new Error("unknown command " + cmd);
  process.stdout.write(JSON.stringify(out) + "\n");
})().catch((e) => {
  process.stderr.write(String(e.stack || e) + "\n");
  process.exit(1);
});
