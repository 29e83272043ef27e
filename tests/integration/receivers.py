"""Stand-ins for the services chainscope notifies, for integration tests.

  receivers.py http PORT LOG      an HTTP server that answers like Slack,
                                  Discord, Telegram, PagerDuty, Opsgenie and
                                  webhooks do, and appends every request it
                                  gets to LOG as one JSON line; /busy answers
                                  429 with Retry-After: 1 the first time it
                                  sees an Idempotency-Key
  receivers.py smtp PORT LOG [CERT KEY]
                                  an SMTP server (aiosmtpd) appending every
                                  mail to LOG; with CERT and KEY it offers
                                  STARTTLS and requires it

Both print "ready" on stdout once they listen.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()


def record(log, obj):
    with lock, open(log, "a") as f:
        f.write(json.dumps(obj) + "\n")


def http(port, log):
    seen = set()

    class H(BaseHTTPRequestHandler):
        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8", "replace")
            record(log, {"path": self.path, "method": self.command, "t": time.time(),
                         "headers": {k.lower(): v for k, v in self.headers.items()},
                         "body": body})
            extra = {}
            key = self.headers.get("Idempotency-Key")
            if self.path.startswith("/busy") and key not in seen:
                seen.add(key)
                status, reply = 429, '{"ok":false,"error_code":429}'
                extra["Retry-After"] = "1"
            elif self.path.startswith("/tg/"):
                status, reply = 200, '{"ok":true,"result":{}}'
            elif self.path.startswith("/pd/"):
                status, reply = 202, '{"status":"success","message":"Event processed"}'
            elif self.path.startswith("/og/"):
                status, reply = 202, '{"result":"Request will be processed"}'
            elif self.path.startswith("/broken"):
                status, reply = 400, '{"error":"bad request"}'
            else:
                status, reply = 200, "ok"
            data = reply.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        do_PUT = do_POST

        def log_message(self, *a):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    print("ready", flush=True)
    srv.serve_forever()


def smtp(port, log, cert=None, key=None):
    import asyncio
    import ssl
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            record(log, {"from": envelope.mail_from, "to": envelope.rcpt_tos,
                         "tls": session.ssl is not None,
                         "data": envelope.content.decode("utf-8", "replace")})
            return "250 OK"

    kw = {}
    if cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        kw = {"tls_context": ctx, "require_starttls": True}
    c = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
    c.start()
    print("ready", flush=True)
    try:
        threading.Event().wait()
    finally:
        c.stop()


if __name__ == "__main__":
    if sys.argv[1] == "http":
        http(int(sys.argv[2]), sys.argv[3])
    else:
        smtp(int(sys.argv[2]), sys.argv[3], *sys.argv[4:6])
