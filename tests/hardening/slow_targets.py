"""Loopback HTTP targets that misbehave in time: one never answers, one drips its body a byte at a time."""

from __future__ import annotations

import socket
import threading
import time


class MisbehavingTarget:
    """Accepts connections on 127.0.0.1 and, per `mode`, hangs ("hang") or drips a slow image ("drip")."""

    def __init__(self, mode: str):
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def url(self, path: str = "/lesion.jpg") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> MisbehavingTarget:
        acceptor = threading.Thread(target=self._accept, daemon=True)
        acceptor.start()
        self._threads.append(acceptor)
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2)
        self.listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            handler = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            handler.start()
            self._threads.append(handler)

    def _serve(self, connection: socket.socket) -> None:
        with connection:
            if self.mode == "drip":
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n")
            while not self._stop.is_set():  # "hang": hold the connection open, say nothing
                if self.mode == "drip":
                    try:
                        connection.sendall(b"\xff")
                    except OSError:
                        return  # the service gave up and closed: good
                time.sleep(0.1)
