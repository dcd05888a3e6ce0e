//! Newline-delimited JSON-RPC framing (MCP stdio transport).
//!
//! [`LineReader`] yields one line at a time, without copying more than once,
//! and never buffers more than the configured limit: an oversized line is
//! skipped to its end and reported, so a server that floods megabyte lines
//! cannot pin memory. While it skips, an [`AnswerScan`] notes which request
//! the line answered, so that request fails at once (see [`read_lines`]).
//!
//! May import: `backend` shapes (the inbound sink), `backend::answer_scan`.

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::answer_scan::AnswerScan;

/// One framing step's outcome.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A complete, non-empty line (trailing `\r` removed).
    Line(Bytes),
    /// A line longer than the limit was discarded; carries its length so far.
    Oversized(usize),
    /// End of stream.
    Eof,
}

/// Reads newline-delimited frames with a size limit.
pub struct LineReader<R> {
    inner: R,
    limit: usize,
    buf: BytesMut,
    /// Return empty lines and keep surrounding whitespace (SSE framing,
    /// where a blank line ends an event); only a trailing `\r` is removed.
    raw: bool,
    /// What the line being skipped (or the last one skipped) answered.
    scan: AnswerScan,
}

// === impl LineReader ===

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// Wraps a buffered reader; lines over `limit` bytes are rejected.
    pub fn new(inner: R, limit: usize) -> Self {
        LineReader {
            inner,
            limit,
            buf: BytesMut::new(),
            raw: false,
            scan: AnswerScan::default(),
        }
    }

    /// Like [`LineReader::new`], but empty lines are returned (as empty
    /// [`Frame::Line`]s), only a trailing `\r` is removed, and an
    /// unterminated final line is dropped (SSE framing).
    pub fn raw(inner: R, limit: usize) -> Self {
        LineReader {
            raw: true,
            ..LineReader::new(inner, limit)
        }
    }

    /// The backend-side id of the request the last [`Frame::Oversized`]
    /// line answered, if it was a response with such an id (see
    /// [`AnswerScan`]).
    pub fn oversized_answers(&self) -> Option<u64> {
        self.scan.answers()
    }

    /// Starts skipping a line: what was buffered, then `more`, go to a
    /// fresh scan (not in raw mode), then away.
    fn start_discarding(scan: &mut AnswerScan, buf: &mut BytesMut, raw: bool, more: &[u8]) {
        *scan = AnswerScan::default();
        if !raw {
            scan.feed(buf);
            scan.feed(more);
        }
        buf.clear();
    }

    /// Reads the next frame. Empty lines are skipped (unless [`raw`](Self::raw)).
    pub async fn next_frame(&mut self) -> std::io::Result<Frame> {
        loop {
            let mut discarding: Option<usize> = None;
            loop {
                let available = self.inner.fill_buf().await?;
                if available.is_empty() {
                    if let Some(n) = discarding {
                        return Ok(Frame::Oversized(n));
                    }
                    if self.buf.is_empty() || self.raw {
                        // Raw mode (SSE) drops an unterminated final line.
                        self.buf.clear();
                        return Ok(Frame::Eof);
                    }
                    // A final line without newline still counts.
                    break;
                }
                match memchr::memchr(b'\n', available) {
                    Some(pos) => {
                        if let Some(n) = discarding {
                            if !self.raw {
                                self.scan.feed(&available[..pos]);
                            }
                            self.inner.consume(pos + 1);
                            return Ok(Frame::Oversized(n + pos));
                        }
                        if self.buf.len() + pos > self.limit {
                            let n = self.buf.len() + pos;
                            Self::start_discarding(
                                &mut self.scan,
                                &mut self.buf,
                                self.raw,
                                &available[..pos],
                            );
                            self.inner.consume(pos + 1);
                            return Ok(Frame::Oversized(n));
                        }
                        self.buf.extend_from_slice(&available[..pos]);
                        self.inner.consume(pos + 1);
                        break;
                    }
                    None => {
                        let len = available.len();
                        if let Some(n) = discarding.as_mut() {
                            *n += len;
                            if !self.raw {
                                self.scan.feed(available);
                            }
                        } else if self.buf.len() + len > self.limit {
                            discarding = Some(self.buf.len() + len);
                            Self::start_discarding(
                                &mut self.scan,
                                &mut self.buf,
                                self.raw,
                                available,
                            );
                        } else {
                            self.buf.extend_from_slice(available);
                        }
                        self.inner.consume(len);
                    }
                }
            }
            let mut line = self.buf.split().freeze();
            if self.raw {
                if line.last() == Some(&b'\r') {
                    line.truncate(line.len() - 1);
                }
                return Ok(Frame::Line(line));
            }
            while line.last().is_some_and(|b| b.is_ascii_whitespace()) {
                line.truncate(line.len() - 1);
            }
            let start = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
            let line = line.slice(start..);
            if !line.is_empty() {
                return Ok(Frame::Line(line));
            }
        }
    }
}

/// Reads a server's output as lines until EOF, handing each message (or
/// the reason it was dropped) to `sink`; returns how many lines it read
/// (0: the server never wrote anything). A line over `limit` is skipped,
/// and the request it answered (if it names one) fails at once through
/// [`InboundSink::on_oversized`].
///
/// [`InboundSink::on_oversized`]: crate::backend::InboundSink::on_oversized
pub(crate) async fn read_lines<R>(
    reader: R,
    limit: usize,
    sink: std::sync::Arc<dyn crate::backend::InboundSink>,
) -> u64
where
    R: AsyncBufRead + Unpin,
{
    let mut lines = LineReader::new(reader, limit);
    let mut read = 0;
    loop {
        match lines.next_frame().await {
            Ok(Frame::Line(line)) => {
                read += 1;
                sink.on_message(line);
            }
            Ok(Frame::Oversized(n)) => {
                read += 1;
                sink.on_oversized(
                    lines.oversized_answers(),
                    &format!(
                        "the MCP server wrote a {n}-byte message, over the {limit}-byte limit \
                         on server messages; raise `limits.max_message_bytes` in Berth's \
                         configuration, or ask the server for less"
                    ),
                );
            }
            Ok(Frame::Eof) => return read,
            Err(e) => {
                sink.on_garbage(&format!("reading server output failed: {e}"));
                return read;
            }
        }
    }
}

/// Longest stderr line logged.
const MAX_STDERR_LINE: usize = 4096;

/// Turns output chunks into log lines (cut at [`MAX_STDERR_LINE`]).
#[derive(Default)]
pub(crate) struct LogLines {
    partial: Vec<u8>,
}

impl LogLines {
    /// Adds a chunk of output; logs every complete line.
    pub(crate) fn push(&mut self, chunk: &[u8], session: &str) {
        self.partial.extend_from_slice(chunk);
        while let Some(pos) = memchr::memchr(b'\n', &self.partial) {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line[..line.len().min(MAX_STDERR_LINE)]);
            tracing::info!(target: "berth::backend::stderr", session = %session, "{}", text.trim_end());
        }
        if self.partial.len() > MAX_STDERR_LINE {
            self.partial.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], limit: usize) -> Vec<Frame> {
        let reader = tokio::io::BufReader::with_capacity(8, input);
        let mut r = LineReader::new(reader, limit);
        let mut out = Vec::new();
        loop {
            let f = r.next_frame().await.unwrap();
            let eof = f == Frame::Eof;
            out.push(f);
            if eof {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn splits_lines_and_skips_blank_ones() {
        let out = frames(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}", 1024).await;
        assert_eq!(
            out,
            vec![
                Frame::Line(Bytes::from_static(b"{\"a\":1}")),
                Frame::Line(Bytes::from_static(b"{\"b\":2}")),
                Frame::Line(Bytes::from_static(b"{\"c\":3}")),
                Frame::Eof
            ]
        );
    }

    #[tokio::test]
    async fn oversized_lines_are_skipped_and_reading_continues() {
        let mut input = vec![b'x'; 100];
        input.extend_from_slice(b"\n{\"ok\":true}\n");
        let out = frames(&input, 16).await;
        assert_eq!(out[0], Frame::Oversized(100));
        assert_eq!(out[1], Frame::Line(Bytes::from_static(b"{\"ok\":true}")));
    }

    #[tokio::test]
    async fn an_oversized_line_tells_which_request_it_answered() {
        let big = "x".repeat(100);
        let input = format!(
            "{{\"result\":\"{big}\",\"jsonrpc\":\"2.0\",\"id\":41}}\n\
             {{\"id\":42,\"result\":\"{big}\"}}\n\
             {{\"id\":43,\"method\":\"sampling/createMessage\",\"params\":\"{big}\"}}\n\
             {{\"id\":44}}\n"
        );
        let reader = tokio::io::BufReader::with_capacity(8, input.as_bytes());
        let mut r = LineReader::new(reader, 64);
        for expected in [Some(41), Some(42), None] {
            assert!(matches!(r.next_frame().await.unwrap(), Frame::Oversized(_)));
            assert_eq!(r.oversized_answers(), expected);
        }
        assert_eq!(
            r.next_frame().await.unwrap(),
            Frame::Line(Bytes::from_static(b"{\"id\":44}"))
        );
    }

    #[tokio::test]
    async fn oversized_final_line_without_newline() {
        let out = frames(&[b'y'; 40], 16).await;
        assert_eq!(out, vec![Frame::Oversized(40), Frame::Eof]);
    }
}
