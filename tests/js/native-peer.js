// The native JavaScript peer of the browser benchmark (tests/tests/bench.rs): what a page without
// tidings does, measured in the same page and run.

// The browser's EventSource, one listener, JSON.parse per event. Resolves with the milliseconds
// until the n-th `tick`.
export function native_event_source(url, n) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let count = 0;
    let sum = 0;
    const source = new EventSource(url);
    source.addEventListener("tick", (event) => {
      sum += JSON.parse(event.data).seq;
      if (++count === n) {
        source.close();
        resolve(performance.now() - start + 0 * sum);
      }
    });
    source.onerror = () => {
      source.close();
      reject(new Error(`EventSource failed after ${count} events`));
    };
  });
}
