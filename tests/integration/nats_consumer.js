// An independent NATS consumer for the tests: the npm `nats` client reads
// what chainscope publishes and decodes the binary event record exactly as
// docs/protocol.md ("Value encoding", "Event record") specifies, or the
// JSON rendering. One JSON line per message on stdout:
//   {"subject":..., "headers":{...}, "event":{seq,time,origin,network,type,key,payload}}
// Usage: node nats_consumer.js --server nats://127.0.0.1:PORT --subject S
//          [--count N] [--timeout MS] [--user U --pass P] [--stream NAME]  (JetStream: read the
//          stream from its start with an ephemeral ordered consumer)
"use strict";
const path = require("path");
const { connect } = require(path.join(__dirname, "..", "node", "node_modules", "nats"));

function arg(name, dflt) {
  const i = process.argv.indexOf("--" + name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

class Reader {
  constructor(buf) { this.b = buf; this.i = 0; }
  need(n) { if (this.i + n > this.b.length) throw new Error("truncated"); }
  u8() { this.need(1); return this.b[this.i++]; }
  varint() {
    let v = 0n, shift = 0n;
    for (let k = 0; k < 10; k++) {
      const c = this.u8();
      v |= BigInt(c & 0x7f) << shift;
      if (!(c & 0x80)) {
        if (k > 0 && c === 0) throw new Error("non-minimal varint");
        return v;
      }
      shift += 7n;
    }
    throw new Error("varint too long");
  }
  u32() { this.need(4); const v = this.b.readUInt32LE(this.i); this.i += 4; return v; }
  bytes(n) { this.need(n); const s = this.b.subarray(this.i, this.i + n); this.i += n; return s; }
  str() { return new TextDecoder("utf-8", { fatal: true }).decode(this.bytes(Number(this.varint()))); }
  num(big) { return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big.toString(); }
  value(depth) {
    if (depth > 32) throw new Error("too deep");
    const tag = this.u8();
    switch (tag) {
      case 0: return null;
      case 1: return false;
      case 2: return true;
      case 3: return this.num(this.varint());
      case 4: { const n = -1n - this.varint(); return n >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString(); }
      case 5: case 6: {
        const m = BigInt("0x" + Buffer.from(this.bytes(this.u8())).toString("hex"));
        return (tag === 6 ? -m : m).toString();
      }
      case 7: { this.need(8); const d = this.b.readDoubleLE(this.i); this.i += 8; return d; }
      case 8: return this.str();
      case 9: return Buffer.from(this.bytes(Number(this.varint()))).toString("hex");
      case 10: case 11: {
        const len = this.u32(), end = this.i + len, count = this.u32();
        const out = tag === 10 ? [] : {};
        for (let k = 0; k < count; k++) {
          if (tag === 10) out.push(this.value(depth + 1));
          else { const key = this.str(); out[key] = this.value(depth + 1); }
        }
        if (this.i !== end) throw new Error("container length mismatch");
        return out;
      }
      default: throw new Error("unknown tag " + tag);
    }
  }
}

function decodeRecord(buf) {
  const r = new Reader(Buffer.from(buf));
  if (r.u8() !== 1) throw new Error("record version");
  const seq = r.num(r.varint());
  r.need(8);
  const time = r.b.readBigInt64LE(r.i).toString(); r.i += 8;
  const ev = { seq, time, origin: r.str(), network: r.str(), type: r.str(), key: r.str() };
  ev.payload = r.value(0);
  if (r.i !== r.b.length) throw new Error("bytes after the payload");
  return ev;
}

async function main() {
  const opts = { servers: arg("server"), reconnect: false };
  if (arg("user")) { opts.user = arg("user"); opts.pass = arg("pass"); }
  const nc = await connect(opts);
  const count = Number(arg("count", "0")), timeout = Number(arg("timeout", "5000"));
  const stream = arg("stream");
  let n = 0, timer;
  const done = () => { process.exit(0); }; // quiet for `timeout` ms: what came is all
  const bump = () => { clearTimeout(timer); timer = setTimeout(done, timeout); };
  const emit = (m) => {
    const headers = {};
    if (m.headers) for (const [k, v] of m.headers) headers[k] = v[0];
    const ev = headers["Chainscope-Encoding"] === "json"
      ? JSON.parse(Buffer.from(m.data).toString("utf8")) : decodeRecord(m.data);
    process.stdout.write(JSON.stringify({ subject: m.subject, headers, event: ev }) + "\n");
    n++;
  };
  bump();
  if (stream) {
    const js = nc.jetstream();
    const c = await js.consumers.get(stream); // ordered, from the start
    const msgs = await c.consume();
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
    for await (const m of msgs) {
      emit(m); bump();
      if (count && n >= count) break;
    }
  } else {
    const sub = nc.subscribe(arg("subject"));
    await nc.flush();
    process.stdout.write(JSON.stringify({ ready: true }) + "\n");
    for await (const m of sub) {
      emit(m); bump();
      if (count && n >= count) break;
    }
  }
  clearTimeout(timer);
  await nc.close();
}
main().catch((e) => { process.stderr.write(String(e.stack || e) + "\n"); process.exit(1); });
