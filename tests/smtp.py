"""A loopback SMTP server for tests that send through Django's real SMTP backend (in a
`qcluster` subprocess): it speaks enough SMTP for smtplib, counts every accepted recipient,
and can be slow (`delay` seconds before answering each message's DATA, like a provider
under load) or stall (never answer the DATA of message number `stall_at`, so the worker
sending it is blocked inside the provider call)."""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter


class LoopbackSMTP:
    def __init__(self, *, delay: float = 0.0, stall_at: int | None = None):
        self.delay = delay
        self.stall_at = stall_at
        self.accepted: Counter = Counter()
        self.stalled_rcpt: str | None = None
        self.seen = 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def env(self) -> dict[str, str]:
        """The worker environment that sends through this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(self.port),
        }

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rb")

        def say(line: str) -> None:
            conn.sendall(line.encode() + b"\r\n")

        try:
            say("220 loopback.test ESMTP")
            rcpts: list[str] = []
            while line := f.readline():
                cmd = line.decode(errors="replace").strip()
                verb = cmd[:4].upper()
                if verb in ("EHLO", "HELO"):
                    say("250 loopback.test")
                elif verb == "MAIL":
                    rcpts = []
                    say("250 ok")
                elif verb == "RCPT":
                    rcpts.append(cmd.split(":", 1)[1].strip().strip("<>"))
                    say("250 ok")
                elif verb == "DATA":
                    say("354 go on")
                    while f.readline() not in (b".\r\n", b".\n", b""):
                        pass
                    with self.lock:
                        self.seen += 1
                        stall = self.seen == self.stall_at
                        if stall:
                            self.stalled_rcpt = rcpts[0]
                    if stall:
                        f.read()  # never answer: block until the client dies
                        return
                    if self.delay:
                        time.sleep(self.delay)
                    with self.lock:
                        self.accepted.update(rcpts)
                    say("250 queued")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("250 ok")
        except OSError:
            return
        finally:
            conn.close()

    def close(self):
        self.sock.close()
