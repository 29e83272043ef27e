"""A debug.log writer in Bitcoin Core's exact line formats.

Shape: Bitcoin Core's logging.cpp (FormatLogStrInPlace, LogTimestampStr,
GetLogPrefix: "<time> [thread] [file:line] [function] [category] message",
the time with -logtimemicros as 2024-05-01T12:00:00.123456Z) and the
LogPrintf/LogDebug call sites of net_processing.cpp, net.cpp,
validation.cpp, validationinterface.cpp and blockencodings.cpp (recent Core;
older formats marked so). Used by test_btclog.py and bench/btclog.sh."""
import random
import time

# (kind, category, function, file:line, format); {n} is the entry's number
# so that a test can count which entries arrived ({blk}: n // 32, so that a
# compact block's two lines name one block).
LINES = [
    ("peer_connected", None, "ProcessMessage", "net_processing.cpp:3615",
     "New outbound-full-relay v2 peer connected: version: 70016, blocks=840{n:03d}, "
     "peer={n}, peeraddr=203.0.113.{b}:8333"),
    ("peer_connected", "net", "ProcessMessage", "net_processing.cpp:3615",
     "New inbound v1 peer connected: version: 70016, blocks=840000, peer={n}"),
    ("peer_connected", None, "ProcessMessage", "net_processing.cpp:3420",  # older Core
     "New outbound peer connected: version: 70016, blocks=780000, peer={n}, "
     "peeraddr=198.51.100.{b}:8333 (block-relay-only)"),
    ("peer_disconnected", "net", "CloseSocketDisconnect", "net.cpp:557",  # older Core
     "disconnecting peer={n}"),
    ("peer_disconnected", "net", "CloseSocketDisconnect", "net.cpp:561",
     "Resetting socket for peer={n}"),
    ("update_tip", None, "UpdateTipLog", "validation.cpp:2890",
     "UpdateTip: new best=00000000000000000001a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5{n:06x} "
     "height={n} version=0x20000000 log2_work=94.876543 tx=1012345678 "
     "date='2024-05-01T12:00:00Z' progress=1.000000 cache=245.3MiB(1785432txo)"),
    ("block_connected", "validation", "BlockConnected", "validationinterface.cpp:231",
     "BlockConnected: block hash=0000000000000000000{n:045x} block height={n}"),
    ("block_timing", "bench", "ConnectTip", "validation.cpp:3120",
     "- Connect block: 123.45ms [2.34s ({n}.00ms/blk)]"),
    ("block_timing", "bench", "ConnectBlock", "validation.cpp:2640",
     "    - Verify 3571 txins: 98.12ms (0.027ms/txin) [1.20s ({n}.10ms/blk)]"),
    ("cmpctblock_init", "cmpctblock", "ProcessCompactBlockTxns", "blockencodings.cpp:211",
     "Initialized PartiallyDownloadedBlock for block 00000000000000000000{blk:044x} using a "
     "cmpctblock of size 14276"),
    ("cmpctblock", "cmpctblock", "FillBlock", "blockencodings.cpp:238",
     "Successfully reconstructed block 00000000000000000000{blk:044x} with 1 txn prefilled, "
     "3470 txn from mempool (incl at least 3 from extra pool) and 11 txn requested"),
    ("mempool_accept", "mempool", "ProcessValidTx", "net_processing.cpp:3190",
     "AcceptToMemoryPool: peer={n}: accepted 7f{n:062x} (wtxid=8e{n:062x}) "
     "(poolsz 41234 txn, 98765 kB)"),
    ("mempool_reject", "mempoolrej", "ProcessInvalidTx", "net_processing.cpp:3150",
     "6a{n:062x} (wtxid=5b{n:062x}) from peer={n} was not accepted: mempool min fee not met, "
     "1200 < 2103"),
    ("misbehaving", "net", "Misbehaving", "net_processing.cpp:1760",
     "Misbehaving: peer={n}: header with invalid proof of work"),
    ("misbehaving", "net", "Misbehaving", "net_processing.cpp:1745",  # older Core
     "Misbehaving: peer={n} (0 -> 100) DISCOURAGE THRESHOLD EXCEEDED: invalid header received"),
    ("discouraged", "net", "MaybeDiscourageAndDisconnect", "net_processing.cpp:4870",
     "Disconnecting and discouraging peer {n}!"),
    ("stale_tip", None, "CheckForStaleTipAndEvictPeers", "net_processing.cpp:5200",
     "Potential stale tip detected, will try using extra outbound peer (last tip update: "
     "{n} seconds ago)"),
    ("new_outbound", "net", "ConnectNode", "net.cpp:430",
     "trying v2 connection 192.0.2.{b}:8333 lastseen=2.5hrs"),
    ("new_header", None, "ProcessHeadersMessage", "net_processing.cpp:2890",
     "Saw new header hash=000000000000000000{n:046x} height={n} peer={n}"),
    ("new_header", None, "ProcessHeadersMessage", "net_processing.cpp:2890",
     "Saw new cmpctblock header hash=000000000000000000{n:046x} height={n} peer={n}"),
    (None, None, "AppInitMain", "init.cpp:1800", "Loaded best chain: hashBestChain=0000{n:060x}"),
    (None, "net", "ProcessMessage", "net_processing.cpp:3500",
     "received: inv (37 bytes) peer={n}"),
    (None, "rpc", "JSONRPCExecOne", "httprpc.cpp:220", "ThreadRPCServer method=getblockcount"),
]

THREADS = ["msghand", "net", "init", "scheduler", "httpworker.0"]


class Options:
    """Core's logging switches (-logtimestamps, -logtimemicros,
    -logthreadnames, -logsourcelocations) and whether category prefixes are
    written (recent Core writes "[category] " before every LogDebug line)."""

    def __init__(self, timestamps=True, micros=False, threadnames=False, sourcelocations=False,
                 categories=True):
        self.timestamps = timestamps
        self.micros = micros
        self.threadnames = threadnames
        self.sourcelocations = sourcelocations
        self.categories = categories


ALL_OPTIONS = [
    Options(),
    Options(micros=True),
    Options(threadnames=True),
    Options(sourcelocations=True),
    Options(categories=False),
    Options(micros=True, threadnames=True, sourcelocations=True),
    Options(timestamps=False),
]


def stamp(t, micros):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(t)))
    if micros:
        return "%s.%06dZ" % (s, int((t - int(t)) * 1e6))
    return s + "Z"


def line(opt, row, n, t=None, thread="msghand"):
    """One entry (with its newline) in Core's format under opt."""
    kind, cat, func, src, fmt = row
    msg = fmt.format(n=n, b=n % 250 + 1, blk=n // 32)
    s = msg
    if cat and opt.categories:
        s = "[%s] %s" % (cat, s)
    if opt.sourcelocations:
        s = "[%s] [%s] %s" % (src, func, s)
    if opt.threadnames:
        s = "[%s] %s" % (thread, s)
    if opt.timestamps:
        s = stamp(time.time() if t is None else t, opt.micros) + " " + s
    return s + "\n"


def multiline(opt, n):
    """An entry whose message holds newlines (Core prefixes its first line
    only): a kind's line followed by two continuation lines."""
    first = line(opt, LINES[16], n)  # stale_tip
    return first + "  continued: detail one\n  continued: detail two\n"


def mixed(count, seed=1, opt=None):
    """count lines of every kind and option mix, as one string per line."""
    rnd = random.Random(seed)
    opts = [opt] if opt else ALL_OPTIONS[:-1]
    t = 1714564800.0
    for n in range(count):
        t += 0.000731
        yield line(rnd.choice(opts), LINES[n % len(LINES)], n, t, THREADS[n % len(THREADS)])
