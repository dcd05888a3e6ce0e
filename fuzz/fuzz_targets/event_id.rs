//! The SSE `Last-Event-ID` parser (`hosting::EventId::parse`) and the replay
//! lookup it feeds (`EventStream::try_next_after`).
//!
//! Invariants: nothing panics; a parsed id round-trips through `Display`;
//! only `{digits}_{digits}` (with `u64`'s optional `+`) is accepted; resuming
//! a stream from any parsed position yields an event after that position, a
//! gap, the end, or "wait", never an event at or before it.

#![no_main]

use berth::fuzzing::streams::{EventId, EventStream, Next};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let Some(id) = EventId::parse(s) else {
        return;
    };
    let shown = id.to_string();
    assert_eq!(EventId::parse(&shown), Some(id), "{s:?} shown as {shown:?}");
    let (a, b) = s.split_once('_').expect("a parsed id has an underscore");
    for part in [a, b] {
        let digits = part.strip_prefix('+').unwrap_or(part);
        assert!(
            !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()),
            "{s:?}"
        );
    }

    // A stream holding events 3..=5 (1 and 2 dropped by the cap), then ended.
    let stream = EventStream::new(id.stream, 3);
    for seq in 1..=5 {
        stream.push(Bytes::from(format!("{{\"n\":{seq}}}")), seq == 5);
    }
    match stream.try_next_after(id.seq) {
        Some(Next::Event(e)) => assert!(e.seq > id.seq, "event {} after {}", e.seq, id.seq),
        Some(Next::Gap) => assert!(id.seq < 2, "gap after {}", id.seq),
        Some(Next::Finished) => assert!(id.seq >= 5, "finished after {}", id.seq),
        None => panic!("a finished stream never waits"),
    }
});
