//! Reads a raw `text/event-stream` on standard input and prints each event as it is dispatched,
//! as one JSON object per line:
//!
//! ```text
//! {"type":"tick","data":"{\"price\":1}","id":"42"}
//! ```
//!
//! where `id` is the last event ID in effect. An event over the size limit prints
//! `{"error":"…"}`. At the end of input it prints
//! `{"final":true,"last_event_id":"…","retry":<milliseconds or null>}`.
//!
//! Each read is parsed as it arrives, so it works on a live stream:
//!
//! ```text
//! curl -sN http://127.0.0.1:3000/api/ticker | cargo run -p tidings-wire --example sse-parse
//! ```

use std::io::{self, Read, Write};

use tidings_wire::Parser;

fn main() -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut parser = Parser::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match stdin.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        let mut lines = String::new();
        parser.feed(&buffer[..read], |event| match event {
            // Written by hand to keep the documented key order.
            Ok(event) => lines.push_str(&format!(
                "{{\"type\":{},\"data\":{},\"id\":{}}}\n",
                json_string(event.event_type),
                json_string(event.data),
                json_string(event.last_event_id),
            )),
            Err(error) => {
                lines.push_str(&format!(
                    "{{\"error\":{}}}\n",
                    json_string(&error.to_string())
                ));
            }
        });
        // Flush per read, so a live stream shows up as it arrives.
        stdout.write_all(lines.as_bytes())?;
        stdout.flush()?;
    }
    parser.end_of_stream();
    let retry = parser
        .retry()
        .map(|retry| u64::try_from(retry.as_millis()).unwrap_or(u64::MAX));
    let retry = retry.map_or_else(|| "null".to_owned(), |millis| millis.to_string());
    writeln!(
        stdout,
        "{{\"final\":true,\"last_event_id\":{},\"retry\":{retry}}}",
        json_string(parser.last_event_id())
    )?;
    Ok(())
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}
