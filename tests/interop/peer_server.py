"""A standard SSE server nobody on the tidings project wrote: sse-starlette on uvicorn.

It resumes from the standard `Last-Event-ID` header only (the query parameter tidings-axum also
reads is ignored, as most servers ignore it), and it knows nothing of tidings.

Its events are a function of time, so that a restarted server still has every event: event `n`
(type `tick`, ID `n`, data `{"seq": n}`) is due at `PEER_EPOCH + n * PEER_INTERVAL_MS`. A client
resuming after `n` gets every event from `n + 1` that is due, at once, then the rest as they fall
due; a client without an ID gets the events from now on. This stands for a server whose events
are kept in a database, which is what resuming across a restart needs.

Routes:
- `GET /events`: the ticks.
- `GET /stall`: one tick, then silence (no keep-alive): a stream stalled behind a proxy.
- `GET /health`: 200.

CORS allows the test page's origin (`PEER_ALLOW_ORIGIN`) and the `Last-Event-ID` request header,
as a cross-origin deployment must for any fetch-based client.
"""

import asyncio
import json
import os
import time

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

EPOCH = float(os.environ.get("PEER_EPOCH", time.time()))
INTERVAL = float(os.environ.get("PEER_INTERVAL_MS", "20")) / 1000
# Silence on /stall, in seconds: longer than any test waits, and bounded.
STALL = 300


def due_seq(now: float) -> int:
    """The newest event due at `now`."""
    return int((now - EPOCH) / INTERVAL)


def resume_after(request) -> int:
    header = request.headers.get("last-event-id", "")
    try:
        return int(header)
    except ValueError:
        # No ID (or not one of ours): from now on.
        return due_seq(time.time())


def tick(seq: int) -> dict:
    return {"event": "tick", "id": str(seq), "data": json.dumps({"seq": seq})}


async def events(request):
    first = resume_after(request) + 1

    async def stream():
        seq = first
        while True:
            delay = EPOCH + seq * INTERVAL - time.time()
            # Yields to the loop even while catching up, so that a client gone is noticed.
            await asyncio.sleep(max(delay, 0))
            yield tick(seq)
            seq += 1

    return EventSourceResponse(stream())


async def stall(request):
    first = resume_after(request) + 1

    async def stream():
        yield tick(first)
        await asyncio.sleep(STALL)

    # No keep-alive pings while it is silent.
    return EventSourceResponse(stream(), ping=STALL * 2)


async def health(request):
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/events", events),
        Route("/stall", stall),
        Route("/health", health),
    ],
    middleware=[
        Middleware(
            CORSMiddleware,
            allow_origins=[os.environ.get("PEER_ALLOW_ORIGIN", "http://127.0.0.1:3918")],
            allow_methods=["GET"],
            allow_headers=["last-event-id"],
        )
    ],
)
