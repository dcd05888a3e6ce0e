//! `LineReader` (the stdio framing of backend servers) over arbitrary bytes.
//!
//! Input layout: byte 0 picks the line limit (0..=63), byte 1 the
//! `BufReader` capacity (1..=16, small so lines straddle reads), the rest is
//! the stream. The frames must equal a simple reference model: split on
//! `\n`; a raw line longer than the limit is `Oversized(len)`; otherwise the
//! line trimmed of ASCII whitespace is a `Line` unless empty; then `Eof`
//! (and `Eof` again on every later call).

#![no_main]

use std::sync::OnceLock;

use berth::fuzzing::framing::{Frame, LineReader};
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

/// What the reader must yield for `stream` with `limit`.
fn model(stream: &[u8], limit: usize) -> Vec<Frame> {
    let mut out = Vec::new();
    for raw in stream.split(|b| *b == b'\n') {
        if raw.len() > limit {
            out.push(Frame::Oversized(raw.len()));
        } else if !raw.trim_ascii().is_empty() {
            out.push(Frame::Line(Bytes::copy_from_slice(raw.trim_ascii())));
        }
    }
    out.push(Frame::Eof);
    out
}

fuzz_target!(|data: &[u8]| {
    let [limit, capacity, stream @ ..] = data else {
        return;
    };
    let limit = usize::from(limit % 64);
    let capacity = usize::from(capacity % 16) + 1;
    let expected = model(stream, limit);

    let frames = runtime().block_on(async {
        let reader = tokio::io::BufReader::with_capacity(capacity, stream);
        let mut lines = LineReader::new(reader, limit);
        let mut frames = Vec::new();
        // Every frame but the last consumes at least one byte.
        for _ in 0..=stream.len() + 1 {
            let frame = lines
                .next_frame()
                .await
                .expect("reading a slice cannot fail");
            let eof = frame == Frame::Eof;
            frames.push(frame);
            if eof {
                let after = lines
                    .next_frame()
                    .await
                    .expect("reading a slice cannot fail");
                assert_eq!(after, Frame::Eof, "a frame after Eof");
                return frames;
            }
        }
        panic!("no Eof after {} frames: {frames:?}", frames.len());
    });

    for frame in &frames {
        if let Frame::Line(line) = frame {
            assert!(
                line.len() <= limit,
                "a {}-byte line passed limit {limit}",
                line.len()
            );
        }
    }
    assert_eq!(frames, expected, "limit {limit}, capacity {capacity}");
});
