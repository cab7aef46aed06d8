#!/usr/bin/env python3
"""Tiny webhook receiver used by record.sh (stdlib only).

Listens on 127.0.0.1 (port 0 = pick a free one), appends every POST body it
receives as one line to --out, and writes the port it bound to --port-file
once it is ready to accept connections.

Alertmanager's webhook body is compact JSON followed by a single "\n", so the
body minus that trailing newline is already one line: it is written verbatim
(byte for byte, keeping Go's escaping such as \\u0026 and its key order).  A
body that would not fit on one line is re-serialised compactly instead.
"""
import argparse
import contextlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True, help="file to append payload lines to")
    ap.add_argument("--port-file", required=True, help="file to write the bound port to")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            try:
                json.loads(body)  # must be valid JSON
            except ValueError as exc:
                self.send_error(400, f"invalid JSON: {exc}")
                return
            line = body[:-1] if body.endswith(b"\n") else body
            if b"\n" in line or b"\r" in line:
                line = json.dumps(
                    json.loads(body), ensure_ascii=False, separators=(",", ":")
                ).encode("utf-8")
            with lock, open(args.out, "ab") as fh:
                fh.write(line + b"\n")
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, fmt: str, *a: object) -> None:
            sys.stderr.write("webhook_sink: " + (fmt % a) + "\n")

    server = HTTPServer(("127.0.0.1", args.port), Handler)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
