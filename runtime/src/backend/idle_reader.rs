//! A buffered reader that holds no buffer while it waits.
//!
//! Every instance has a reader parked on its output almost all the time.
//! Tokio's `BufReader` allocates (and zeroes) its whole buffer up front and
//! keeps it for the life of the stream: 64 KiB for stdout and 8 KiB for
//! stderr made up most of Berth's memory per idle session. [`IdleReader`]
//! reads into an uninitialized buffer on the stack of the poll that found
//! data, keeps only the bytes it got (an allocation of exactly that size)
//! until they are consumed, and frees them then: a quiet instance costs
//! its reader nothing but the reader itself.
//!
//! May import: external crates only.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncBufRead, AsyncRead, ReadBuf};

/// Most bytes read at once: what a Linux pipe holds by default, so a large
/// message takes no more reads than with a 64 KiB `BufReader`.
pub(crate) const READ_CHUNK: usize = 64 * 1024;

/// Buffers what one read returned, and nothing while no data waits.
#[derive(Debug)]
pub(crate) struct IdleReader<R> {
    inner: R,
    /// Bytes read and not consumed yet (`pos..`); empty, without an
    /// allocation, between reads.
    buf: Vec<u8>,
    pos: usize,
}

// === impl IdleReader ===

impl<R> IdleReader<R> {
    /// Wraps `inner`.
    pub(crate) fn new(inner: R) -> Self {
        IdleReader {
            inner,
            buf: Vec::new(),
            pos: 0,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for IdleReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let available = ready!(self.as_mut().poll_fill_buf(cx))?;
        let n = available.len().min(out.remaining());
        out.put_slice(&available[..n]);
        self.consume(n);
        Poll::Ready(Ok(()))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for IdleReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if this.pos >= this.buf.len() {
            // Uninitialized, so a read that finds nothing touches nothing.
            let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
            let mut read = ReadBuf::uninit(&mut chunk);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            this.buf = read.filled().to_vec();
            this.pos = 0;
        }
        Poll::Ready(Ok(&this.buf[this.pos..]))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        let this = self.get_mut();
        this.pos = (this.pos + amt).min(this.buf.len());
        if this.pos == this.buf.len() {
            // Everything read was consumed: give the memory back now.
            this.buf = Vec::new();
            this.pos = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn reads_what_was_written_and_frees_its_buffer_between_reads() {
        let (mut tx, rx) = tokio::io::duplex(256);
        let mut r = IdleReader::new(rx);
        tx.write_all(b"one\ntwo\n").await.unwrap();
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "one\n");
        assert!(r.buf.capacity() > 0, "the rest of the read is kept");
        line.clear();
        r.read_line(&mut line).await.unwrap();
        assert_eq!(line, "two\n");
        assert_eq!(r.buf.capacity(), 0, "nothing is held once all is consumed");
        tx.write_all(b"tail").await.unwrap();
        drop(tx);
        let mut rest = String::new();
        r.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "tail");
        assert_eq!(r.fill_buf().await.unwrap(), b"", "end of stream");
    }

    #[tokio::test]
    async fn a_message_larger_than_one_read_arrives_whole() {
        let big = vec![b'x'; 3 * READ_CHUNK + 17];
        let (mut tx, rx) = tokio::io::duplex(READ_CHUNK);
        let writer = tokio::spawn({
            let big = big.clone();
            async move {
                tx.write_all(&big).await.unwrap();
                tx.write_all(b"\n").await.unwrap();
            }
        });
        let mut line = Vec::new();
        IdleReader::new(rx)
            .read_until(b'\n', &mut line)
            .await
            .unwrap();
        writer.await.unwrap();
        assert_eq!(line.len(), big.len() + 1);
    }
}
