// The fetch peer of the browser benchmark (tests/tests/bench.rs). `cargo xtask bench browser`
// appends this file to the npm eventsource-parser's single-file build (which defines
// `createParser`) to make js/fetch-peer.generated.js: a browser test page loads one module file
// per import, so the peer and the parser must be one file. Neither the parser nor the result is
// committed.
// fetch + ReadableStream + TextDecoderStream + eventsource-parser, JSON.parse per event.
export async function fetch_with_parser(url, n) {
  const start = performance.now();
  const controller = new AbortController();
  const response = await fetch(url, { headers: { Accept: "text/event-stream" }, signal: controller.signal });
  let count = 0;
  let sum = 0;
  const parser = createParser({
    onEvent(event) {
      if (event.event === "tick") {
        sum += JSON.parse(event.data).seq;
        count += 1;
      }
    },
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  while (count < n) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`the stream ended after ${count} events`);
    }
    parser.feed(value);
  }
  controller.abort();
  return performance.now() - start + 0 * sum;
}
