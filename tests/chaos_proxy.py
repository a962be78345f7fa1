#!/usr/bin/env python3
"""A fault-injecting proxy in front of the local AWS, for `make chaos`.

Every request is forwarded to the upstream (moto) unless the dice say
otherwise. On S3, SQS, Kinesis, Firehose and DynamoDB calls (the service is
read from the SigV4 credential scope), a share `--rate` of calls get one of:

- `throttle`: the service's throttling answer, not forwarded (S3 `503
  SlowDown`, JSON services `400 ThrottlingException`, DynamoDB
  `ProvisionedThroughputExceededException`);
- `error`: `500 InternalError` / `InternalFailure`, not forwarded;
- `reset`: the connection closed with no answer, not forwarded;
- `lost`: forwarded (the call takes effect) and then the connection closed
  with no answer: the client cannot tell it from `reset`, and its retry
  repeats a call that already happened;
- `slow`: forwarded after a delay of `--slow` seconds.

The dice are a seeded generator, so a run is repeatable call for call given
the same order of calls. `GET /__chaos/stats` answers the counts so far
(calls and faults per service and kind) as JSON; `POST /__chaos/rate` with a
number as its body changes the rate (0 turns the faults off).

usage: chaos_proxy.py --upstream http://127.0.0.1:5055 [--port 0]
         [--rate 0.15] [--seed 7] [--slow 1.0] [--exit-on-stdin-eof]
Prints `READY http://127.0.0.1:PORT` once listening.
"""
import argparse
import http.client
import json
import random
import re
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTED = {"s3", "sqs", "kinesis", "firehose", "dynamodb"}
KINDS = ("throttle", "error", "reset", "lost", "slow")
SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Connection-level headers a proxy must not pass on.
HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}


class State:
    def __init__(self, rate, seed, slow):
        self.rate = rate
        self.slow = slow
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.stats = {}

    def draw(self, service):
        """The fault for one call of `service`, or None; counts the call."""
        with self.lock:
            s = self.stats.setdefault(service, {"calls": 0, **{k: 0 for k in KINDS}})
            s["calls"] += 1
            if service not in FAULTED or self.rng.random() >= self.rate:
                return None
            kind = self.rng.choice(KINDS)
            s[kind] += 1
            return kind


def service_of(headers):
    m = SCOPE.search(headers.get("Authorization", ""))
    return m.group(1) if m else "unsigned"


def reset(conn):
    """Close with a TCP reset, as a load balancer dropping the call does."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    except OSError:
        pass


def handler_for(state, upstream):
    up = urlsplit(upstream)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def body(self):
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                out = b""
                while True:
                    size = int(self.rfile.readline().split(b";")[0], 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass
                        return out
                    out += self.rfile.read(size)
                    self.rfile.readline()
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def control(self, body):
            if self.path == "/__chaos/stats":
                with state.lock:
                    answer = json.dumps(state.stats).encode()
            elif self.path == "/__chaos/rate":
                state.rate = float(body.decode() or 0)
                answer = b"{}"
            else:
                return False
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return True

        def answer(self, status, headers, payload):
            self.send_response(status)
            head = self.command == "HEAD"
            for k, v in headers:
                k_ = k.lower()
                # A HEAD answer keeps the length of the body it describes.
                if k_ not in HOP and k_ != "transfer-encoding" and (head or k_ != "content-length"):
                    self.send_header(k, v)
            if not head:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if not head:
                self.wfile.write(payload)

        def fault(self, service, kind):
            if kind == "reset":
                self.close_connection = True
                reset(self.connection)
                return
            s3 = service == "s3"
            if kind == "throttle":
                status, code = (503, "SlowDown") if s3 else (400, "ThrottlingException")
                if service == "dynamodb":
                    code = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
                elif service == "kinesis":
                    code = "ProvisionedThroughputExceededException"
            else:
                status, code = (500, "InternalError") if s3 else (500, "InternalFailure")
            if s3:
                payload = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
                           "<Message>injected by chaos_proxy</Message></Error>" % code).encode()
                headers = [("Content-Type", "application/xml")]
            else:
                payload = json.dumps({"__type": code, "message": "injected by chaos_proxy"}).encode()
                headers = [("Content-Type", "application/x-amz-json-1.0"),
                           ("x-amzn-ErrorType", code.split("#")[-1])]
            self.answer(status, headers, payload)

        def forward(self, body):
            conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            if "chunked" in headers.get("Transfer-Encoding", "").lower():
                del headers["Transfer-Encoding"]
                headers["Content-Length"] = str(len(body))
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                r = conn.getresponse()
                return r.status, r.getheaders(), r.read()
            finally:
                conn.close()

        def handle_any(self):
            body = self.body()
            if self.path.startswith("/__chaos/") and self.control(body):
                return
            service = service_of(self.headers)
            kind = state.draw(service)
            if kind in ("throttle", "error", "reset"):
                return self.fault(service, kind)
            if kind == "slow":
                time.sleep(state.slow)
            status, headers, payload = self.forward(body)
            if kind == "lost":
                self.close_connection = True
                reset(self.connection)
                return
            self.answer(status, headers, payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = handle_any

    return Handler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--rate", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--slow", type=float, default=1.0)
    ap.add_argument("--exit-on-stdin-eof", action="store_true")
    a = ap.parse_args()
    state = State(a.rate, a.seed, a.slow)
    server = ThreadingHTTPServer(("127.0.0.1", a.port), handler_for(state, a.upstream))
    server.daemon_threads = True
    print("READY http://127.0.0.1:%d" % server.server_address[1], flush=True)
    if a.exit_on_stdin_eof:
        def watch():
            sys.stdin.read()
            server.shutdown()
        threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
