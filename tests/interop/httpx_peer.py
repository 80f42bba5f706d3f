"""A third-party SSE client nobody on the tidings project wrote: httpx-sse, driven by the
reconnect loop from its README (resume from `sse.id`, wait the server's `retry`).

    python httpx_peer.py <url> <until-seq>

Prints one JSON line per event it dispatches, `{"type", "id", "data"}`, as httpx-sse hands them
over, and exits 0 once it has seen an event whose ID ends in a number >= until-seq; exits 2 after
120 s (bounded). The README's loop retries on `httpx.ReadError`; a stream the server ends
cleanly is retried too, as every EventSource does.
"""

import json
import sys
import time

import httpx
from httpx_sse import connect_sse

url, until = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 120


def seq_of(event_id: str) -> int:
    try:
        return int(event_id.rsplit("-", 1)[-1])
    except ValueError:
        return -1


def main() -> int:
    last_event_id = ""
    reconnection_delay = 0.0
    with httpx.Client(timeout=httpx.Timeout(10.0)) as client:
        while time.time() < deadline:
            time.sleep(reconnection_delay)
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            try:
                with connect_sse(client, "GET", url, headers=headers) as event_source:
                    for sse in event_source.iter_sse():
                        # As the README does: every dispatched event moves the resume ID.
                        last_event_id = sse.id
                        if sse.retry is not None:
                            reconnection_delay = sse.retry / 1000
                        print(json.dumps({"type": sse.event, "id": sse.id, "data": sse.data}), flush=True)
                        if sse.event == "n" and seq_of(sse.id) >= until:
                            return 0
            except (httpx.ReadError, httpx.RemoteProtocolError, httpx.ConnectError) as error:
                print(f"reconnecting after {error!r}", file=sys.stderr)
    print(f"timed out before seq {until}", file=sys.stderr)
    return 2


sys.exit(main())
