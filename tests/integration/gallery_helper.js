// Test helper for the contract template gallery: compiles small contracts
// in the shape of OpenZeppelin's Ownable, Pausable, AccessControl, an
// ERC-1967 proxy, a Governor, a TimelockController, a Safe and an ERC-20
// (each emits the events of its original; written for the test), deploys
// them on a node and makes one transaction per scenario step (automine: one
// block each). Prints JSON on stdout:
//   node gallery_helper.js URL OUTDIR -> {"contracts": {Name: address},
//        "steps": [{"name": step, "contract": Name, "hash": h, "block": n, "status": s}]}
// Run with NODE_PATH=tests/node/node_modules.
"use strict";
const fs = require("fs");
const path = require("path");
const { ethers } = require("ethers");

const SOURCE = `
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Owned {
    address public owner = msg.sender;
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    function transferOwnership(address n) external { emit OwnershipTransferred(owner, n); owner = n; }
    function fail() external pure { revert("no"); }
}
contract Pausy {
    event Paused(address account);
    event Unpaused(address account);
    function pause() external { emit Paused(msg.sender); }
    function unpause() external { emit Unpaused(msg.sender); }
}
contract Roles {
    event RoleGranted(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleRevoked(bytes32 indexed role, address indexed account, address indexed sender);
    event RoleAdminChanged(bytes32 indexed role, bytes32 indexed previousAdminRole, bytes32 indexed newAdminRole);
    function grantRole(bytes32 r, address a) external { emit RoleGranted(r, a, msg.sender); }
    function revokeRole(bytes32 r, address a) external { emit RoleRevoked(r, a, msg.sender); }
    function setRoleAdmin(bytes32 r, bytes32 a) external { emit RoleAdminChanged(r, bytes32(0), a); }
}
contract Proxy1967 {
    event Upgraded(address indexed implementation);
    event AdminChanged(address previousAdmin, address newAdmin);
    function upgradeTo(address i) external { emit Upgraded(i); }
    function changeAdmin(address a) external { emit AdminChanged(msg.sender, a); }
}
contract Gov {
    event ProposalCreated(uint256 proposalId, address proposer, address[] targets, uint256[] values,
        string[] signatures, bytes[] calldatas, uint256 voteStart, uint256 voteEnd, string description);
    event ProposalQueued(uint256 proposalId, uint256 etaSeconds);
    event ProposalExecuted(uint256 proposalId);
    event ProposalCanceled(uint256 proposalId);
    function propose(uint256 id, string calldata d) external {
        address[] memory t = new address[](1); t[0] = address(this);
        uint256[] memory v = new uint256[](1);
        string[] memory s = new string[](1); s[0] = "";
        bytes[] memory c = new bytes[](1);
        emit ProposalCreated(id, msg.sender, t, v, s, c, block.number + 1, block.number + 10, d);
    }
    function queue(uint256 id) external { emit ProposalQueued(id, block.timestamp + 60); }
    function execute(uint256 id) external { emit ProposalExecuted(id); }
    function cancel(uint256 id) external { emit ProposalCanceled(id); }
}
contract Timelock {
    event CallScheduled(bytes32 indexed id, uint256 indexed index, address target, uint256 value,
        bytes data, bytes32 predecessor, uint256 delay);
    event CallExecuted(bytes32 indexed id, uint256 indexed index, address target, uint256 value, bytes data);
    function schedule(bytes32 id) external { emit CallScheduled(id, 0, address(this), 0, "", bytes32(0), 60); }
    function executeOp(bytes32 id) external { emit CallExecuted(id, 0, address(this), 0, ""); }
}
contract SafeLike {
    event AddedOwner(address indexed owner);
    event RemovedOwner(address indexed owner);
    event ChangedThreshold(uint256 threshold);
    function addOwner(address o) external { emit AddedOwner(o); }
    function removeOwner(address o) external { emit RemovedOwner(o); }
    function changeThreshold(uint256 t) external { emit ChangedThreshold(t); }
}
contract Token {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    function transfer(address to, uint256 v) external { emit Transfer(msg.sender, to, v); }
    function mint(address to, uint256 v) external { emit Transfer(address(0), to, v); }
    function burn(uint256 v) external { emit Transfer(msg.sender, address(0), v); }
    function approve(address s, uint256 v) external { emit Approval(msg.sender, s, v); }
}`;

const KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const A1 = "0x00000000000000000000000000000000000000a1";
const KNOWN = "0x00000000000000000000000000000000000000c0";
const BIG = 5000n * 10n ** 18n;
const R = "0x" + "11".repeat(32);

// step name, contract, function, args (and options)
const STEPS = [
  ["ownership", "Owned", "transferOwnership", [A1]],
  ["pause", "Pausy", "pause", []],
  ["unpause", "Pausy", "unpause", []],
  ["grant", "Roles", "grantRole", [R, A1]],
  ["revoke", "Roles", "revokeRole", [R, A1]],
  ["role-admin", "Roles", "setRoleAdmin", [R, R]],
  ["upgrade", "Proxy1967", "upgradeTo", [A1]],
  ["admin", "Proxy1967", "changeAdmin", [A1]],
  ["propose", "Gov", "propose", [1, "raise the fee"]],
  ["queue", "Gov", "queue", [1]],
  ["execute", "Gov", "execute", [1]],
  ["cancel", "Gov", "cancel", [2]],
  ["schedule", "Timelock", "schedule", [R]],
  ["execute-op", "Timelock", "executeOp", [R]],
  ["add-owner", "SafeLike", "addOwner", [A1]],
  ["remove-owner", "SafeLike", "removeOwner", [A1]],
  ["threshold", "SafeLike", "changeThreshold", [2]],
  ["small-transfer", "Token", "transfer", [A1, 5n]],
  ["big-transfer", "Token", "transfer", [A1, BIG]],
  ["big-mint", "Token", "mint", [A1, BIG]],
  ["big-burn", "Token", "burn", [BIG]],
  ["approve-known", "Token", "approve", [KNOWN, 10n]],
  ["approve-unknown", "Token", "approve", [A1, 10n]],
  ["failed", "Owned", "fail", []],
  ["pricey", "Pausy", "pause", [], { gwei: 300n }],
];

// anvil mines each transaction at once: its receipt is there (no polling)
async function receipt(provider, hash) {
  for (let i = 0; i < 100; i++) {
    const r = await provider.send("eth_getTransactionReceipt", [hash]);
    if (r) return r;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error("no receipt for " + hash);
}

async function main(url, outDir) {
  const solc = require("solc");
  const input = {
    language: "Solidity",
    sources: { "G.sol": { content: SOURCE } },
    settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "paris",
                outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  for (const e of out.errors || []) if (e.severity === "error") throw new Error(e.formattedMessage);
  const provider = new ethers.JsonRpcProvider(url, undefined, { staticNetwork: true, batchMaxCount: 1 });
  const wallet = new ethers.NonceManager(new ethers.Wallet(KEY, provider));
  const contracts = {}, ifaces = {};
  for (const [name, c] of Object.entries(out.contracts["G.sol"])) {
    fs.writeFileSync(path.join(outDir, name + ".abi.json"), JSON.stringify(c.abi));
    const tx = await wallet.sendTransaction({ data: "0x" + c.evm.bytecode.object, gasLimit: 3000000 });
    contracts[name] = (await receipt(provider, tx.hash)).contractAddress.toLowerCase();
    ifaces[name] = new ethers.Interface(c.abi);
  }
  const steps = [];
  for (const [step, cname, fn, args, opt] of STEPS) {
    const gwei = (opt && opt.gwei) || 2n;
    const tx = await wallet.sendTransaction({
      to: contracts[cname], data: ifaces[cname].encodeFunctionData(fn, args), gasLimit: 300000,
      maxFeePerGas: gwei * 10n ** 9n, maxPriorityFeePerGas: gwei * 10n ** 9n });
    const r = await receipt(provider, tx.hash);
    steps.push({ name: step, contract: cname, hash: tx.hash, block: Number(r.blockNumber),
                 status: Number(r.status) });
  }
  return { contracts, steps };
}

main(process.argv[2], process.argv[3]).then(
  (o) => { process.stdout.write(JSON.stringify(o) + "\n"); },
  (e) => { process.stderr.write(String(e.stack || e) + "\n"); process.exit(1); });
