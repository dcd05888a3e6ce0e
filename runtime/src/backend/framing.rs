//! Newline-delimited JSON-RPC framing (MCP stdio transport).
//!
//! [`LineReader`] yields one line at a time, without copying more than once,
//! and never buffers more than the configured limit: an oversized line is
//! skipped to its end and reported, so a server that floods megabyte lines
//! cannot pin memory.
//!
//! May import: `backend` shapes (the inbound sink).

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

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
                            self.inner.consume(pos + 1);
                            return Ok(Frame::Oversized(n + pos));
                        }
                        if self.buf.len() + pos > self.limit {
                            let n = self.buf.len() + pos;
                            self.buf.clear();
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
                        } else if self.buf.len() + len > self.limit {
                            discarding = Some(self.buf.len() + len);
                            self.buf.clear();
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
/// (0: the server never wrote anything).
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
                sink.on_garbage(&format!(
                    "server wrote a {n}-byte message, over the {limit}-byte limit"
                ));
            }
            Ok(Frame::Eof) => return read,
            Err(e) => {
                sink.on_garbage(&format!("reading server output failed: {e}"));
                return read;
            }
        }
    }
}

/// Writes whole lines from `rx` to a server's input until the channel
/// closes or `stop` fires, flushing once per burst; then closes the input
/// (the polite way to ask a stdio server to exit).
pub(crate) async fn write_lines<W>(
    mut input: W,
    mut rx: mpsc::Receiver<Bytes>,
    stop: CancellationToken,
) where
    W: AsyncWrite + Unpin,
{
    loop {
        let msg = tokio::select! {
            m = rx.recv() => m,
            _ = stop.cancelled() => None,
        };
        let Some(msg) = msg else { break };
        // Messages arrive as complete lines (see `Instance::outbound`).
        if input.write_all(&msg).await.is_err() {
            break;
        }
        if rx.is_empty() && input.flush().await.is_err() {
            break;
        }
    }
    let _ = input.shutdown().await;
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
    async fn oversized_final_line_without_newline() {
        let out = frames(&[b'y'; 40], 16).await;
        assert_eq!(out, vec![Frame::Oversized(40), Frame::Eof]);
    }
}
