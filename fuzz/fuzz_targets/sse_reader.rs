//! `SseReader` (how Berth reads HTTP-transport servers' event streams) over
//! arbitrary bytes.
//!
//! Input layout: byte 0 picks the event size limit (its low 6 bits; the
//! high bit means "no practical limit"), byte 1 the `BufReader` capacity
//! (1..=16, small so lines straddle reads), the rest is the stream.
//! Invariants: no panic; no event's data over the limit; the reader ends
//! and stays ended. Without a practical limit the events must equal a
//! simple reference model of the SSE field rules.

#![no_main]

use std::sync::OnceLock;

use berth::fuzzing::sse::{Event, Next, SseReader};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
    })
}

/// The events of `stream` (every line is terminated by `\n`; the part
/// after the last `\n` is an unterminated line and dropped).
fn model(stream: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let Some(end) = stream.iter().rposition(|b| *b == b'\n') else {
        return out;
    };
    let (mut id, mut data, mut retry, mut has_data) = (None, Vec::new(), None, false);
    for raw in stream[..end].split(|b| *b == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            if has_data || id.is_some() || retry.is_some() {
                out.push(Event {
                    id: id.take(),
                    data: Bytes::from(std::mem::take(&mut data)),
                    retry: retry.take(),
                });
            }
            (id, retry, has_data) = (None, None, false);
            data.clear();
            continue;
        }
        if line[0] == b':' {
            continue;
        }
        let (field, value) = match line.iter().position(|b| *b == b':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match field {
            b"data" => {
                if has_data {
                    data.push(b'\n');
                }
                has_data = true;
                data.extend_from_slice(value);
            }
            b"id" if !value.contains(&0) => {
                id = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"retry" => {
                if let Ok(ms) = std::str::from_utf8(value).unwrap_or("").parse() {
                    retry = Some(ms);
                }
            }
            _ => {}
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [limit, capacity, stream @ ..] = data else {
        return;
    };
    let unlimited = limit & 0x80 != 0;
    let limit = if unlimited {
        1 << 20
    } else {
        usize::from(limit % 64) + 1
    };
    let capacity = usize::from(capacity % 16) + 1;

    let results = runtime().block_on(async {
        let reader = tokio::io::BufReader::with_capacity(capacity, stream);
        let mut sse = SseReader::new(reader, limit);
        let mut results = Vec::new();
        for _ in 0..=stream.len() + 1 {
            let next = sse.next_event().await.expect("reading a slice cannot fail");
            if next == Next::End {
                let after = sse.next_event().await.expect("reading a slice cannot fail");
                assert_eq!(after, Next::End, "an event after End");
                return results;
            }
            results.push(next);
        }
        panic!("no End after {} results", results.len());
    });

    for r in &results {
        if let Next::Event(e) = r {
            assert!(e.data.len() <= limit, "{} bytes passed limit {limit}", e.data.len());
        }
    }
    if unlimited {
        let events: Vec<Event> = results
            .into_iter()
            .map(|r| match r {
                Next::Event(e) => e,
                Next::Oversized(n) => panic!("oversized {n} under a 1 MiB limit"),
                Next::End => unreachable!(),
            })
            .collect();
        assert_eq!(events, model(stream));
    }
});
