"""An HTTP server on 127.0.0.1 for download tests: files that fail, truncate, stall or dribble on purpose."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes = b""
    status: int = 200  # every request gets this status when it is not 200
    fail_first: int = 0  # the first N requests get 503
    truncate_first: int = -1  # the first N requests (all when -1 and `truncate`) stop half-way
    truncate: bool = False
    stall_s: float = 0.0  # sleep before answering
    seconds_per_chunk: float = 0.0  # sends 64 KiB chunks this far apart
    requests: int = 0


class ArchiveServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route.requests += 1
                n = route.requests
                if route.stall_s:
                    time.sleep(route.stall_s)
                if route.status != 200 or n <= route.fail_first:
                    self.send_error(route.status if route.status != 200 else 503)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                truncating = route.truncate and (route.truncate_first < 0 or n <= route.truncate_first)
                body = route.body[: len(route.body) // 2] if truncating else route.body
                for i in range(0, len(body), 1 << 16):
                    self.wfile.write(body[i:i + (1 << 16)])
                    if route.seconds_per_chunk:
                        self.wfile.flush()
                        time.sleep(route.seconds_per_chunk)
                if truncating:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def add(self, path: str, route: Route) -> str:
        self.routes[path] = route
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> "ArchiveServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
