"""A small JSON-RPC node for tests, written from geth's documentation: answers
over HTTP (http.server) and over a unix socket (geth's IPC: JSON texts in
both directions), single calls and batches. `handler(method, params)`
returns a result, raises RpcError for an error envelope, or returns RAW(text)
to send bytes as they are (malformed JSON)."""
import json
import os
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class RpcError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class RAW:
    def __init__(self, text):
        self.text = text


def answer(handler, body):
    """The response text for a request body."""
    try:
        req = json.loads(body)
    except ValueError:
        return json.dumps({"jsonrpc": "2.0", "id": None,
                           "error": {"code": -32700, "message": "parse error"}})
    batch = isinstance(req, list)
    out = []
    for r in (req if batch else [req]):
        try:
            res = handler(r.get("method"), r.get("params") or [])
            if isinstance(res, RAW):
                return res.text
            out.append({"jsonrpc": "2.0", "id": r.get("id"), "result": res})
        except RpcError as e:
            out.append({"jsonrpc": "2.0", "id": r.get("id"),
                        "error": {"code": e.code, "message": e.message}})
    return json.dumps(out if batch else out[0])


class FakeNode:
    def __init__(self, handler, ipc_path=None):
        self.handler = handler
        node = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                text = answer(node.handler, self.rfile.read(n)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *a):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.ipc = None
        if ipc_path:
            class I(socketserver.StreamRequestHandler):
                def handle(self):
                    dec = json.JSONDecoder()
                    buf = ""
                    while True:
                        data = self.request.recv(65536)
                        if not data:
                            return
                        buf += data.decode()
                        while True:
                            buf = buf.lstrip()
                            if not buf:
                                break
                            try:
                                obj, end = dec.raw_decode(buf)
                            except ValueError:
                                break
                            buf = buf[end:]
                            self.wfile.write((answer(node.handler, json.dumps(obj)) + "\n").encode())

            self.ipc = socketserver.ThreadingUnixStreamServer(ipc_path, I)
            threading.Thread(target=self.ipc.serve_forever, daemon=True).start()

    def close(self):
        self.http.shutdown()
        self.http.server_close()
        if self.ipc:
            self.ipc.shutdown()
            self.ipc.server_close()
            try:
                os.unlink(self.ipc.server_address)
            except OSError:
                pass
