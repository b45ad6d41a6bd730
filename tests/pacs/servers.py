"""A scripted HTTP server on 127.0.0.1 for the retry tests: answers the given (status, body) in turn."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextlib.contextmanager
def serve(answers: list[tuple], seen: list[dict], *, delay_s: float = 0.0):
    """Port of a server answering ``answers`` (``(status, body[, content type])``) in order (the
    last one repeats); each request's headers and path are appended to ``seen``."""
    answers = list(answers)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            seen.append({**self.headers, "path": self.path})
            status, body, *ctype = answers.pop(0) if len(answers) > 1 else answers[0]
            time.sleep(delay_s)
            self.send_response(status)
            self.send_header("Content-Type", ctype[0] if ctype else "application/dicom+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except BrokenPipeError:  # the client gave up (the timeout test)
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    """A loopback port nobody listens on (for "connection refused")."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
