// A third-party SSE client nobody on the tidings project wrote, run in Node against a server:
//
//     node node_peer.mjs <eventsource|fetch-event-source> <url> <until-seq>
//
// - `eventsource`: the npm `eventsource` package (the WHATWG EventSource for Node), as is.
// - `fetch-event-source`: `@microsoft/fetch-event-source`, used as its README says: retry when
//   the server closes the stream (throw from `onclose`), resume with its own Last-Event-ID.
//
// Prints one JSON line per event it dispatches, `{"type", "id", "data"}`, exactly as the client
// hands them over, and exits 0 once it has seen an event whose ID ends in a number >= until-seq.
// Exits 3 if the client gives up for good, 2 after 120 s (bounded).

const [client, url, untilArg] = process.argv.slice(2);
const until = Number(untilArg);
const EVENT_TYPES = ["n", "tidings-resync"];

const seqOf = (id) => Number(String(id).split("-").pop());
function report(type, id, data) {
  process.stdout.write(JSON.stringify({ type, id, data }) + "\n");
  if (type === "n" && seqOf(id) >= until) {
    done(0);
  }
}
let finish = () => {};
function done(code) {
  finish();
  // Let stdout drain before leaving.
  process.stdout.write("", () => process.exit(code));
}
setTimeout(() => {
  process.stderr.write(`timed out before seq ${until}\n`);
  done(2);
}, 120_000).unref();

if (client === "eventsource") {
  const { EventSource } = await import("eventsource");
  const source = new EventSource(url);
  finish = () => source.close();
  // Every dispatched event, whatever its type: `message` for untyped ones.
  for (const type of [...EVENT_TYPES, "message"]) {
    source.addEventListener(type, (event) => report(event.type, event.lastEventId, event.data));
  }
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      process.stderr.write("the EventSource gave up for good\n");
      done(3);
    }
  });
} else if (client === "fetch-event-source") {
  // It reads `document.hidden` and `window.setTimeout`: the small stubs it needs outside a page.
  globalThis.window = globalThis;
  globalThis.document = {
    hidden: false,
    addEventListener() {},
    removeEventListener() {},
  };
  const { fetchEventSource } = await import("@microsoft/fetch-event-source");
  class Retry extends Error {}
  const controller = new AbortController();
  finish = () => controller.abort();
  await fetchEventSource(url, {
    signal: controller.signal,
    openWhenHidden: true,
    async onopen(response) {
      const type = response.headers.get("content-type") ?? "";
      if (!response.ok || !type.startsWith("text/event-stream")) {
        process.stderr.write(`refused: ${response.status} ${type}\n`);
        done(3);
      }
    },
    onmessage(message) {
      report(message.event || "message", message.id, message.data);
    },
    onclose() {
      throw new Retry();
    },
    onerror(error) {
      if (!(error instanceof Retry)) {
        process.stderr.write(`error: ${error}\n`);
      }
      // Returning nothing retries after the server's retry: interval.
    },
  });
} else {
  process.stderr.write(`unknown client ${client}\n`);
  process.exit(64);
}
