"""Runs the third-party peer server (peer_server.py, on uvicorn) and restarts it on request.

    python supervisor.py --port 3921 --control 3922 --allow-origin http://127.0.0.1:3918

- `POST /restart?down_ms=N` on the control port SIGKILLs the server mid-stream (its clients see
  the connection die, as in a crash), waits N ms, starts it again, and answers once it accepts
  connections: `{"killed_at": ms, "restarted_at": ms}` (Unix time in milliseconds; `killed_at`
  is stamped just before the kill).
- `GET /health` answers 200 while the server is up.

Every server run shares one epoch, so the restarted server has every event (see
peer_server.py). The server dies with the supervisor (SIGTERM, or the parent's death), and the
supervisor stops by itself after --lifetime seconds. Loopback only.
"""

import argparse
import ctypes
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """In the child: be killed when the supervisor dies, however it dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Peer:
    """The server process. Only one long-lived thread starts and kills it: the kernel's
    parent-death signal fires when the *thread* that started a child ends, so a child started
    from a request's thread would die with that request."""

    def __init__(self, port: int, env: dict):
        self.port = port
        self.env = env
        self.process = None
        self.jobs = queue.Queue()
        threading.Thread(target=self.work, daemon=True).start()

    def work(self):
        while True:
            job, reply = self.jobs.get()
            try:
                reply.put((True, job()))
            except Exception as error:  # reported to the caller
                reply.put((False, error))

    def run(self, job):
        """Runs `job` on the owning thread and returns its result (or raises its error)."""
        reply = queue.Queue()
        self.jobs.put((job, reply))
        ok, value = reply.get()
        if not ok:
            raise value
        return value

    def start(self):
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "peer_server:app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--no-access-log",
            ],
            cwd=HERE,
            env=self.env,
            preexec_fn=die_with_parent,
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the peer server exited: {self.process.returncode}")
                time.sleep(0.02)
        raise RuntimeError("the peer server did not start in 20 s")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self, down_ms: int) -> dict:
        def job():
            # Stamped before the kill: a client may see its connection die before kill()
            # returns, and nothing it sees from then on may be earlier than this.
            killed_at = time.time() * 1000
            self.kill()
            time.sleep(down_ms / 1000)
            self.start()
            return {"killed_at": killed_at, "restarted_at": time.time() * 1000}

        return self.run(job)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--control", type=int, required=True)
    parser.add_argument("--allow-origin", default="http://127.0.0.1:3918")
    parser.add_argument("--interval-ms", default="20")
    parser.add_argument("--lifetime", type=float, default=3600)
    args = parser.parse_args()

    env = dict(os.environ)
    env["PEER_EPOCH"] = repr(time.time())
    env["PEER_INTERVAL_MS"] = args.interval_ms
    env["PEER_ALLOW_ORIGIN"] = args.allow_origin
    peer = Peer(args.port, env)
    peer.run(peer.start)

    class Control(BaseHTTPRequestHandler):
        def cors(self):
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Access-Control-Allow-Methods", "GET, POST")

        def answer(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.cors()
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self):
            self.send_response(204)
            self.cors()
            self.end_headers()

        def do_GET(self):
            if urlparse(self.path).path == "/health":
                up = peer.process is not None and peer.process.poll() is None
                self.answer(200 if up else 503, {"up": up})
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self):
            url = urlparse(self.path)
            if url.path != "/restart":
                return self.answer(404, {"error": "not found"})
            down_ms = int(parse_qs(url.query).get("down_ms", ["1000"])[0])
            try:
                self.answer(200, peer.restart(min(down_ms, 30_000)))
            except RuntimeError as error:
                self.answer(500, {"error": str(error)})

        def log_message(self, format, *args):
            pass

    control = ThreadingHTTPServer(("127.0.0.1", args.control), Control)

    def stop(*_):
        if peer.process:
            peer.process.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Timer(args.lifetime, stop).start()
    print(f"peer server on 127.0.0.1:{args.port}, control on 127.0.0.1:{args.control}", flush=True)
    control.serve_forever()


if __name__ == "__main__":
    main()
