"""A small webhook receiver for the demo: prints each notification Lotse sends and whether its signature holds.

    .venv/bin/python deploy/demo/webhook_receiver.py   # port 8009, secret from $LOTSE_VAR_DIR/demo-webhook-secret

It answers 200 to a request signed with the secret (Standard Webhooks), 401 otherwise, and counts each
webhook-id once (a repeat is acknowledged again but not counted), as a receiving system should.
"""

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from lotse_contracts.webhooks import verify


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8009)
    parser.add_argument(
        "--secret-file", type=Path, default=Path(os.environ.get("LOTSE_VAR_DIR", "var")) / "demo-webhook-secret"
    )
    args = parser.parse_args()
    secret = args.secret_file.read_text().strip()
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            signed = verify([secret], headers, body)
            message_id = headers.get("webhook-id", "?")
            repeat = message_id in seen
            if signed:
                seen.add(message_id)
            payload: Any = json.loads(body) if signed else None
            what = f"{payload['type']} {payload['data']['referral_id']}" if payload else "UNSIGNED"
            print(f"{'repeat ' if repeat else ''}{message_id}  {what}", flush=True)
            if payload:
                print(f"    {json.dumps(payload['data'], ensure_ascii=False)}", flush=True)
            self.send_response(200 if signed else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    print(f"demo webhook receiver on http://127.0.0.1:{args.port}/lotse", flush=True)
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
