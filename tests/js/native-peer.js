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

// The latency peer: the browser's EventSource, one listener, JSON.parse per event. Resolves
// with each of the first n ticks' delay from publish (its `price`, in milliseconds since the
// Unix epoch) to the listener, in milliseconds.
export function native_latency(url, n) {
  return new Promise((resolve, reject) => {
    const delays = new Float64Array(n);
    let count = 0;
    const source = new EventSource(url);
    source.addEventListener("tick", (event) => {
      delays[count] = performance.timeOrigin + performance.now() - JSON.parse(event.data).price;
      if (++count === n) {
        source.close();
        resolve(delays);
      }
    });
    source.onerror = () => {
      source.close();
      reject(new Error(`EventSource failed after ${count} events`));
    };
  });
}

// The decoding peer of `bench codecs`: JSON.parse over the same JSON texts tidings decodes,
// in a JavaScript loop. Resolves with the milliseconds it took (the sum of `seq` keeps the
// engine from skipping the work).
export function json_parse_all(texts) {
  const start = performance.now();
  let sum = 0;
  for (const text of texts) {
    sum += JSON.parse(text).seq;
  }
  return performance.now() - start + 0 * sum;
}

// The streaming peer of `bench codecs`: the browser's EventSource, one `samples` listener,
// JSON.parse per event. Resolves with the milliseconds until the n-th batch.
export function native_samples(url, n) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let count = 0;
    const source = new EventSource(url);
    source.addEventListener("samples", (event) => {
      if (JSON.parse(event.data).seq && ++count === n) {
        source.close();
        resolve(performance.now() - start);
      }
    });
    source.onerror = () => {
      source.close();
      reject(new Error(`EventSource failed after ${count} events`));
    };
  });
}

// Main-thread busy time for `bench frames`: the tasks over 50 ms (the Long Tasks API, which
// Chromium has), from long_tasks_start() to long_tasks_stop(), which returns their total
// duration in milliseconds (-1 where the browser does not report long tasks).
let longTasks = null;
export function long_tasks_start() {
  if (!PerformanceObserver.supportedEntryTypes.includes("longtask")) {
    longTasks = null;
    return;
  }
  const tasks = { total: 0 };
  tasks.observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) tasks.total += entry.duration;
  });
  tasks.observer.observe({ type: "longtask" });
  longTasks = tasks;
}
export function long_tasks_stop() {
  const tasks = longTasks;
  longTasks = null;
  if (tasks === null) return -1;
  for (const entry of tasks.observer.takeRecords()) tasks.total += entry.duration;
  tasks.observer.disconnect();
  return tasks.total;
}
