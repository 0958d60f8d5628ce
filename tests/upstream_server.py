"""A real HTTP server on 127.0.0.1 serving upstream-format files, with injectable faults.

Used by the refresh tests: each path maps to a :class:`Route` (body, ETag, and the fault to
inject: HTTP errors before success, a delay, a redirect, a truncated body, a body without
Content-Length, a stall mid-body). Every request is logged with its conditional headers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    etag: str = ""
    last_modified: str = "Mon, 30 Nov 2026 10:00:00 GMT"
    errors_first: int = 0  # answer this many requests with ``error_status`` first
    error_status: int = 500
    delay_s: float = 0.0  # before the status line
    redirect: str = ""  # Location of a 302
    truncate: bool = False  # send half the body with the full Content-Length, then close
    no_length: bool = False  # no Content-Length: the body ends when the connection closes
    stall_s: float = 0.0  # send half the body, then wait this long before the rest


@dataclass
class Request:
    path: str
    if_none_match: str | None
    if_modified_since: str | None


@dataclass
class Upstream:
    routes: dict[str, Route] = field(default_factory=dict)
    log: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def requests(self, path: str) -> list[Request]:
        return [r for r in self.log if r.path == path]


def start() -> Upstream:
    up = Upstream()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep pytest output clean
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            up.log.append(
                Request(
                    path, self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                )
            )
            route = up.routes.get(path)
            if route is None:
                self._plain(404, b"not found")
                return
            if route.delay_s:
                time.sleep(route.delay_s)
            if route.errors_first > 0:
                route.errors_first -= 1
                self._plain(route.error_status, b"upstream trouble")
                return
            if route.redirect:
                self.send_response(302)
                self.send_header("Location", route.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            if route.etag:
                self.send_header("ETag", route.etag)
            if route.last_modified:
                self.send_header("Last-Modified", route.last_modified)
            if route.no_length:
                self.send_header("Connection", "close")
                self.close_connection = True
            else:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            half = len(route.body) // 2
            if route.truncate:
                self.wfile.write(route.body[:half])
                self.wfile.flush()
                self.close_connection = True
                return
            if route.stall_s:
                self.wfile.write(route.body[:half])
                self.wfile.flush()
                time.sleep(route.stall_s)
                self.wfile.write(route.body[half:])
                return
            self.wfile.write(route.body)

        def _plain(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        def handle_error(self, request, client_address) -> None:
            # a client that gave up (size cap, timeout, kill -9) resets the connection: expected
            pass

    server = Server(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    up.server = server
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return up


def stop(up: Upstream) -> None:
    up.server.shutdown()
    up.server.server_close()
