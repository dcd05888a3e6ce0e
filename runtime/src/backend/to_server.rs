//! The way into an instance: [`ToServer`] takes whole messages (one line
//! each, ending in `\n`) and delivers them in order, never interleaving
//! two messages' bytes.
//!
//! Two kinds:
//! - a queue drained by the backend's own writer task (the kubernetes
//!   attach stream, the HTTP bridge);
//! - an input written by the caller itself: a non-blocking pipe
//!   ([`ToServer::pipe`], the process backend's stdin) or a stream
//!   ([`ToServer::stream`], the docker attach connection). A message the
//!   input takes whole at once (nearly all: a request is far smaller than
//!   a pipe's or a socket's buffer) costs one `write` and wakes no other
//!   task. Only when the input is full does the rest go to a writer task,
//!   and every later message queues behind it until the input drains, so
//!   order holds and a caller that gives up mid-way (its future dropped)
//!   never leaves half a line behind.
//!
//! May import: external crates only.

use std::future::poll_fn;
use std::io::ErrorKind;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::net::unix::pipe;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

/// The instance no longer takes messages (it stopped, or closed its input).
#[derive(Debug)]
pub(crate) struct Closed;

/// Whole messages to the server, each one line ending in `\n`.
#[derive(Clone, Debug)]
pub(crate) struct ToServer(Way);

#[derive(Clone, Debug)]
enum Way {
    /// A backend's writer task reads the other end.
    Queue(mpsc::Sender<Bytes>),
    /// Callers write the input themselves; see [`Direct`].
    Direct(Arc<Direct>),
}

// === impl ToServer ===

impl ToServer {
    /// Messages go to `queue`, whose receiver a backend's writer task drains.
    pub(crate) fn queue(queue: mpsc::Sender<Bytes>) -> Self {
        ToServer(Way::Queue(queue))
    }

    /// Messages are written to `pipe` by the caller while it takes them
    /// whole; a writer task (spawned here) finishes any message the pipe
    /// could not take at once and the ones behind it, holding at most
    /// `queue` of them before callers wait. The pipe is closed (the server
    /// reads end of input) when `stop` is cancelled or every clone of the
    /// returned handle is dropped.
    pub(crate) fn pipe(pipe: pipe::Sender, queue: usize, stop: CancellationToken) -> Self {
        Self::direct(Input::Pipe(pipe), queue, stop)
    }

    /// As [`ToServer::pipe`], for a stream (the docker attach connection):
    /// callers write it while it takes a message whole at once (a write
    /// that would wait goes to the writer task instead); it is shut down
    /// when `stop` is cancelled or every handle is dropped.
    pub(crate) fn stream(
        stream: impl AsyncWrite + Send + 'static,
        queue: usize,
        stop: CancellationToken,
    ) -> Self {
        Self::direct(
            Input::Stream(parking_lot::Mutex::new(Box::pin(stream))),
            queue,
            stop,
        )
    }

    fn direct(input: Input, queue: usize, stop: CancellationToken) -> Self {
        let shared = Arc::new(Shared {
            state: parking_lot::Mutex::new(State {
                input: Some(Arc::new(input)),
                busy: false,
                pending: None,
                queueing: 0,
            }),
            wake: Notify::new(),
        });
        let (tx, rx) = mpsc::channel(queue.max(1));
        tokio::spawn(drain(shared.clone(), rx, stop));
        ToServer(Way::Direct(Arc::new(Direct { shared, queue: tx })))
    }

    /// Delivers one message (in order with the others sent through this
    /// handle and its clones); waits only while the way in is full.
    pub(crate) async fn send(&self, msg: Bytes) -> Result<(), Closed> {
        match &self.0 {
            Way::Queue(tx) => tx.send(msg).await.map_err(|_| Closed),
            Way::Direct(direct) => direct.send(msg).await,
        }
    }
}

/// What a [`Direct`] way in writes to.
enum Input {
    Pipe(pipe::Sender),
    /// Locked only inside a single poll, never across an `.await`.
    Stream(parking_lot::Mutex<Pin<Box<dyn AsyncWrite + Send>>>),
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Input::Pipe(_) => "Input::Pipe",
            Input::Stream(_) => "Input::Stream",
        })
    }
}

// === impl Input ===

impl Input {
    /// Writes what the input takes now, without waiting (`WouldBlock` when
    /// it takes nothing): how many bytes it took and, for a stream that
    /// took all of `buf`, whether they were flushed too (a flush that would
    /// wait is left to the writer task).
    fn try_write(&self, buf: &[u8]) -> std::io::Result<(usize, bool)> {
        match self {
            Input::Pipe(pipe) => pipe.try_write(buf).map(|n| (n, true)),
            Input::Stream(stream) => {
                let mut cx = Context::from_waker(Waker::noop());
                let mut stream = stream.lock();
                let n = match stream.as_mut().poll_write(&mut cx, buf) {
                    Poll::Ready(Ok(0)) if !buf.is_empty() => {
                        return Err(ErrorKind::WriteZero.into());
                    }
                    Poll::Ready(result) => result?,
                    Poll::Pending => return Err(ErrorKind::WouldBlock.into()),
                };
                if n < buf.len() {
                    return Ok((n, false));
                }
                match stream.as_mut().poll_flush(&mut cx) {
                    Poll::Ready(result) => result.map(|()| (n, true)),
                    Poll::Pending => Ok((n, false)),
                }
            }
        }
    }

    /// Writes some of `buf`, waiting for room.
    async fn write_some(&self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Input::Pipe(pipe) => loop {
                pipe.writable().await?;
                match pipe.try_write(buf) {
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    written => return written,
                }
            },
            Input::Stream(stream) => {
                let n = poll_fn(|cx| stream.lock().as_mut().poll_write(cx, buf)).await?;
                if n == 0 && !buf.is_empty() {
                    return Err(ErrorKind::WriteZero.into());
                }
                Ok(n)
            }
        }
    }

    /// Sends on what a stream buffered (nothing to do for a pipe).
    async fn flush(&self) -> std::io::Result<()> {
        match self {
            Input::Pipe(_) => Ok(()),
            Input::Stream(stream) => poll_fn(|cx| stream.lock().as_mut().poll_flush(cx)).await,
        }
    }

    /// Tells the server its input ended: a pipe closes when dropped; a
    /// stream is shut down.
    async fn close(&self) {
        if let Input::Stream(stream) = self {
            let _ = poll_fn(|cx| stream.lock().as_mut().poll_shutdown(cx)).await;
        }
    }
}

/// An input the callers write themselves, with a writer task for the rest.
#[derive(Debug)]
struct Direct {
    shared: Arc<Shared>,
    /// Messages behind one the pipe could not take whole.
    queue: mpsc::Sender<Bytes>,
}

/// What the callers and the writer task share.
#[derive(Debug)]
struct Shared {
    state: parking_lot::Mutex<State>,
    /// Tells the idle writer task that `pending` was set.
    wake: Notify,
}

#[derive(Debug)]
struct State {
    /// `None` once closed.
    input: Option<Arc<Input>>,
    /// The writer task owns the input: callers queue instead of writing.
    busy: bool,
    /// The unwritten rest of the message a caller started; goes first.
    pending: Option<Bytes>,
    /// Callers that chose the queue and have not yet had their message
    /// taken from it: the writer task keeps the input until they have, so a
    /// later message cannot overtake theirs.
    queueing: usize,
}

// === impl Direct ===

impl Direct {
    async fn send(&self, msg: Bytes) -> Result<(), Closed> {
        {
            let mut state = self.shared.state.lock();
            let Some(input) = &state.input else {
                return Err(Closed);
            };
            if !state.busy {
                let (written, flushed) = match input.try_write(&msg) {
                    Ok(written) => written,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => (0, false),
                    Err(_) => {
                        // The server closed its input (or exited).
                        state.input = None;
                        return Err(Closed);
                    }
                };
                if written < msg.len() || !flushed {
                    // The writer task finishes it (the rest, or only the
                    // flush: then the rest is empty).
                    state.busy = true;
                    state.pending = Some(msg.slice(written..));
                    drop(state);
                    self.shared.wake.notify_one();
                }
                return Ok(());
            }
            state.queueing += 1;
        }
        let mut queueing = Queueing(Some(&self.shared));
        let sent = self.queue.send(msg).await;
        if sent.is_err() {
            return Err(Closed);
        }
        // Taken over by the writer task, which counts it when it takes it.
        queueing.0 = None;
        Ok(())
    }
}

/// A caller's place among the `queueing`, given up if its message never
/// reaches the queue (the caller gave up, or the queue closed).
struct Queueing<'a>(Option<&'a Shared>);

impl Drop for Queueing<'_> {
    fn drop(&mut self) {
        if let Some(shared) = self.0 {
            let mut state = shared.state.lock();
            state.queueing = state.queueing.saturating_sub(1);
            drop(state);
            // The writer may be waiting for this caller's message.
            shared.wake.notify_one();
        }
    }
}

/// The writer task: writes what callers could not, in order, until `stop`
/// is cancelled, every handle is dropped or the input fails; then closes it.
async fn drain(shared: Arc<Shared>, mut rx: mpsc::Receiver<Bytes>, stop: CancellationToken) {
    loop {
        // What to write next: a caller's unfinished message, then the queue.
        let next = {
            let mut state = shared.state.lock();
            match state.pending.take() {
                Some(rest) => Some(rest),
                None => match rx.try_recv() {
                    Ok(msg) => {
                        state.busy = true;
                        state.queueing = state.queueing.saturating_sub(1);
                        Some(msg)
                    }
                    Err(mpsc::error::TryRecvError::Empty) => {
                        // Callers may write the input again once no one
                        // is on the way into the queue.
                        state.busy = state.queueing > 0;
                        None
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                },
            }
        };
        let msg = match next {
            Some(msg) => msg,
            None => tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => {
                        let started = {
                            let mut state = shared.state.lock();
                            state.busy = true;
                            state.queueing = state.queueing.saturating_sub(1);
                            state.pending.take()
                        };
                        // A caller started a message before this one
                        // arrived: finish it first.
                        if let Some(rest) = started
                            && !write_all(&shared, &rest, &stop).await
                        {
                            break;
                        }
                        msg
                    }
                    None => break,
                },
                () = shared.wake.notified() => continue,
                () = stop.cancelled() => break,
            },
        };
        if !write_all(&shared, &msg, &stop).await {
            break;
        }
    }
    let input = {
        let mut state = shared.state.lock();
        state.pending = None;
        state.input.take()
    };
    if let Some(input) = input {
        input.close().await;
    }
}

/// Writes all of `msg`, waiting for room; `false` if the input is closed,
/// fails, or `stop` is cancelled first.
async fn write_all(shared: &Shared, mut msg: &[u8], stop: &CancellationToken) -> bool {
    let Some(input) = shared.state.lock().input.clone() else {
        return false;
    };
    while !msg.is_empty() {
        tokio::select! {
            written = input.write_some(msg) => match written {
                Ok(n) => msg = &msg[n..],
                Err(_) => return false,
            },
            () = stop.cancelled() => return false,
        }
    }
    tokio::select! {
        flushed = input.flush() => flushed.is_ok(),
        () = stop.cancelled() => false,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use tokio::io::{AsyncRead, AsyncReadExt};
    use tokio::net::unix::pipe;
    use tokio::task::JoinHandle;
    use tokio_util::sync::CancellationToken;

    use super::ToServer;

    /// Reads the server's side until its input ends.
    fn read_to_end(mut input: impl AsyncRead + Unpin + Send + 'static) -> JoinHandle<String> {
        tokio::spawn(async move {
            let mut got = String::new();
            input.read_to_string(&mut got).await.expect("read");
            got
        })
    }

    /// What `reader` read, once the input ended (`ends` says why it should).
    async fn everything(reader: JoinHandle<String>, ends: &str) -> String {
        tokio::time::timeout(Duration::from_secs(10), reader)
            .await
            .expect(ends)
            .expect("reader task")
    }

    /// One message arrives; cancelling `stop` ends the input (the server
    /// reads end of input) and later sends fail.
    async fn stop_ends_the_input(
        to_server: ToServer,
        stop: CancellationToken,
        mut input: impl AsyncRead + Unpin,
    ) {
        to_server
            .send(Bytes::from_static(b"{}\n"))
            .await
            .expect("send");
        let mut first = [0u8; 3];
        input
            .read_exact(&mut first)
            .await
            .expect("the message arrives");
        assert_eq!(&first, b"{}\n");
        stop.cancel();
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), input.read_to_end(&mut rest))
            .await
            .expect("end of input after stop")
            .expect("read");
        assert!(rest.is_empty());
        assert!(to_server.send(Bytes::from_static(b"{}\n")).await.is_err());
    }

    /// A message far larger than a pipe's buffer, then small ones sent
    /// while it is still being written: the reader sees every message
    /// whole and in order.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn messages_stay_whole_and_in_order_when_the_pipe_fills() {
        let (tx, rx) = pipe::pipe().expect("pipe");
        let to_server = ToServer::pipe(tx, 4, CancellationToken::new());
        let reader = read_to_end(rx);
        let big = format!("{}\n", "x".repeat(1 << 20));
        let mut expected = big.clone();
        to_server.send(Bytes::from(big)).await.expect("big");
        for i in 0..50 {
            let line = format!("{{\"n\":{i}}}\n");
            expected.push_str(&line);
            to_server.send(Bytes::from(line)).await.expect("small");
        }
        drop(to_server);
        let got = everything(reader, "the pipe closes once every handle is dropped").await;
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "messages were interleaved or reordered");
    }

    /// Cancelling `stop` closes the pipe (the server reads end of input)
    /// and later sends fail.
    #[tokio::test]
    async fn stop_closes_the_pipe() {
        let (tx, rx) = pipe::pipe().expect("pipe");
        let stop = CancellationToken::new();
        let to_server = ToServer::pipe(tx, 4, stop.clone());
        stop_ends_the_input(to_server, stop, rx).await;
    }

    /// A reader that went away: sends fail (at the latest once the writer
    /// task has met the broken pipe) instead of hanging or piling up.
    #[tokio::test]
    async fn a_closed_reader_fails_the_send() {
        let (tx, rx) = pipe::pipe().expect("pipe");
        drop(rx);
        let to_server = ToServer::pipe(tx, 4, CancellationToken::new());
        let mut failed = false;
        for _ in 0..100 {
            if to_server.send(Bytes::from_static(b"{}\n")).await.is_err() {
                failed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(failed, "sends to a pipe without a reader kept succeeding");
    }

    /// The same through a stream that takes 64 bytes at a time (the
    /// docker attach connection's way): large and small messages arrive
    /// whole and in order, and the stream is shut down once every handle
    /// is dropped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_gets_messages_whole_and_in_order() {
        let (ours, theirs) = tokio::io::duplex(64);
        let to_server = ToServer::stream(ours, 4, CancellationToken::new());
        let reader = read_to_end(theirs);
        let mut expected = String::new();
        for i in 0..40 {
            let line = if i % 7 == 0 {
                format!("{{\"big\":\"{}\"}}\n", "y".repeat(10_000 + i))
            } else {
                format!("{{\"n\":{i}}}\n")
            };
            expected.push_str(&line);
            to_server.send(Bytes::from(line)).await.expect("send");
        }
        drop(to_server);
        let got = everything(
            reader,
            "the stream is shut down once every handle is dropped",
        )
        .await;
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "messages were interleaved or reordered");
    }

    /// Cancelling `stop` shuts a stream down (the server reads end of
    /// input) and later sends fail.
    #[tokio::test]
    async fn stop_shuts_a_stream_down() {
        let (ours, theirs) = tokio::io::duplex(64);
        let stop = CancellationToken::new();
        let to_server = ToServer::stream(ours, 4, stop.clone());
        stop_ends_the_input(to_server, stop, theirs).await;
    }
}
