"""Local HTTP servers for the SSRF tests: they count every request they receive."""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler], None]


class CountingServer:
    """Serves `routes` by path on host:random-port; `hits` lists every path requested."""

    def __init__(self, host: str = "127.0.0.1", routes: dict[str, Route] | None = None):
        self.routes = routes or {}
        self.hits: list[str] = []
        self.hosts_seen: list[str] = []
        self.stop_waiting = threading.Event()  # lets slow handlers end promptly at teardown
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.hits.append(self.path)
                server.hosts_seen.append(self.headers.get("Host", ""))
                route = server.routes.get(self.path.split("?")[0])
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route(self)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def __enter__(self) -> CountingServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_waiting.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def send(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: bool = True,
) -> None:
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    if content_length:
        handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def redirect(location: str) -> Route:
    return lambda handler: send(handler, 302, headers={"Location": location})


def image(body: bytes, content_type: str = "image/png") -> Route:
    return lambda handler: send(handler, 200, body, {"Content-Type": content_type})
