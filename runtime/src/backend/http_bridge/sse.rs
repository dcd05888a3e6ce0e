//! Reading a server's `text/event-stream` responses: events with `id`,
//! `data` and `retry` fields (per the WHATWG SSE parsing rules), with a size
//! limit per event so a server cannot pin memory with an endless event.
//!
//! May import: `backend::framing`.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncBufRead;

use crate::backend::framing::{Frame, LineReader};

/// One dispatched event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Event {
    /// The `id` field, if the event set one.
    pub id: Option<String>,
    /// The `data` lines joined by `\n` (empty for priming events).
    pub data: Bytes,
    /// The `retry` field: reconnection delay in milliseconds.
    pub retry: Option<u64>,
}

/// What [`SseReader::next_event`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A complete event.
    Event(Event),
    /// An event over the size limit was skipped; carries its size so far.
    Oversized(usize),
    /// The stream ended.
    End,
}

/// Parses events from a byte stream.
pub struct SseReader<R> {
    lines: LineReader<R>,
    limit: usize,
}

// === impl SseReader ===

impl<R: AsyncBufRead + Unpin> SseReader<R> {
    /// Events (and single lines) over `limit` bytes are skipped.
    pub fn new(inner: R, limit: usize) -> Self {
        SseReader {
            lines: LineReader::raw(inner, limit),
            limit,
        }
    }

    /// Reads up to and including the next blank line.
    pub async fn next_event(&mut self) -> std::io::Result<Next> {
        let mut event = Event::default();
        let mut data = BytesMut::new();
        let mut has_data = false;
        let mut oversized: Option<usize> = None;
        loop {
            let line = match self.lines.next_frame().await? {
                Frame::Line(line) => line,
                Frame::Oversized(n) => {
                    oversized = Some(oversized.unwrap_or(0) + n);
                    continue;
                }
                // An unterminated final event is discarded, as the spec says.
                Frame::Eof => return Ok(Next::End),
            };
            if line.is_empty() {
                if let Some(n) = oversized {
                    return Ok(Next::Oversized(n));
                }
                // Comment-only blocks dispatch nothing; an `id` or `retry`
                // without data still counts (resumption needs the id).
                if has_data || event.id.is_some() || event.retry.is_some() {
                    event.data = data.freeze();
                    return Ok(Next::Event(event));
                }
                continue;
            }
            if line[0] == b':' {
                continue; // comment
            }
            let (field, value) = match memchr::memchr(b':', &line) {
                Some(i) => {
                    let v = &line[i + 1..];
                    (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
                }
                None => (&line[..], &b""[..]),
            };
            match field {
                b"data" => {
                    let separator = usize::from(has_data);
                    has_data = true;
                    if oversized.is_some() {
                        continue;
                    }
                    if data.len() + separator + value.len() > self.limit {
                        oversized = Some(data.len() + separator + value.len());
                        data.clear();
                        continue;
                    }
                    if separator == 1 {
                        data.extend_from_slice(b"\n");
                    }
                    data.extend_from_slice(value);
                }
                b"id" if !value.contains(&0) => {
                    event.id = Some(String::from_utf8_lossy(value).into_owned());
                }
                b"retry" => {
                    if let Ok(ms) = std::str::from_utf8(value).unwrap_or("").parse() {
                        event.retry = Some(ms);
                    }
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(input: &str, limit: usize) -> Vec<Next> {
        let mut reader = SseReader::new(input.as_bytes(), limit);
        let mut out = Vec::new();
        loop {
            let next = reader.next_event().await.unwrap();
            let end = next == Next::End;
            out.push(next);
            if end {
                return out;
            }
        }
    }

    fn event(id: Option<&str>, data: &str, retry: Option<u64>) -> Next {
        Next::Event(Event {
            id: id.map(str::to_owned),
            data: Bytes::copy_from_slice(data.as_bytes()),
            retry,
        })
    }

    #[tokio::test]
    async fn priming_event_then_message() {
        let got = parse(
            "data: \nid: 0\nretry: 3000\n\ndata: {\"id\":1}\nid: 1\n\n",
            1024,
        )
        .await;
        assert_eq!(
            got,
            vec![
                event(Some("0"), "", Some(3000)),
                event(Some("1"), "{\"id\":1}", None),
                Next::End
            ]
        );
    }

    #[tokio::test]
    async fn multi_line_data_crlf_and_comments() {
        let got = parse(": keep-alive\r\n\r\ndata:a\r\ndata: b\r\n\r\n", 1024).await;
        assert_eq!(got, vec![event(None, "a\nb", None), Next::End]);
    }

    #[tokio::test]
    async fn oversized_event_is_skipped_and_the_next_one_survives() {
        let big = "x".repeat(200);
        let input = format!("data: {big}\ndata: {big}\n\ndata: ok\n\n");
        let got = parse(&input, 300).await;
        assert!(matches!(got[0], Next::Oversized(n) if n >= 300), "{got:?}");
        assert_eq!(got[1], event(None, "ok", None));
    }

    #[tokio::test]
    async fn unterminated_final_event_is_dropped() {
        assert_eq!(parse("data: half", 1024).await, vec![Next::End]);
    }
}
