//! A running server instance as the layers above see it: a message pipe
//! ([`Instance::outbound`] in, an [`InboundSink`] out) and a way to stop it.
//!
//! May import: `backend::to_server`, external crates.

use async_trait::async_trait;
use bytes::Bytes;

use super::to_server::ToServer;

/// Receives what an instance produces. Called from the backend's reader task;
/// implementations must not block.
pub(crate) trait InboundSink: Send + Sync + 'static {
    /// One complete message (a line without its newline).
    fn on_message(&self, line: Bytes);
    /// The server wrote something that is not a usable message.
    fn on_garbage(&self, reason: &str);
    /// The server wrote a message over the size limit, which was dropped
    /// unread; `answers` is the backend-side id of the request it answered,
    /// if it was a response naming one. `reason` says what happened and
    /// which setting to raise. Default: reported like garbage.
    fn on_oversized(&self, answers: Option<u64>, reason: &str) {
        let _ = answers;
        self.on_garbage(reason);
    }
    /// The instance is gone; no more calls follow.
    fn on_exit(&self, reason: String);
}

/// A running server instance.
pub(crate) struct Instance {
    /// Human-readable instance id (pid or container id).
    pub id: String,
    /// What another pod needs to re-attach to this instance after a
    /// failover (the container id); `None` if it dies with its pod.
    pub resume: Option<String>,
    /// Whole messages to the server, each one line ending in `\n`.
    pub outbound: ToServer,
    /// Stops the instance.
    pub control: Box<dyn InstanceControl>,
}

/// Stops an instance.
#[async_trait]
pub(crate) trait InstanceControl: Send + Sync {
    /// Stops the instance and waits until it is gone: close its input, then
    /// escalate (SIGTERM, SIGKILL) after `grace` each.
    async fn shutdown(&self);

    /// Lets go of the instance without stopping it, so another pod can
    /// re-attach (pod shutdown with a shared store). Instances that cannot
    /// outlive their pod are stopped instead.
    async fn detach(&self) {
        self.shutdown().await;
    }
}

/// Stops an instance run by a supervisor task: cancels `stop` and waits
/// until the supervisor reports the instance gone through `done`.
pub(crate) struct StopControl {
    /// Tells the supervisor to stop the instance.
    pub stop: tokio_util::sync::CancellationToken,
    /// Becomes `true` once the instance is gone (or let go).
    pub done: tokio::sync::watch::Receiver<bool>,
    /// Tells the supervisor to let go without stopping; `None` when the
    /// instance cannot outlive this pod.
    pub detach: Option<tokio_util::sync::CancellationToken>,
}

#[async_trait]
impl InstanceControl for StopControl {
    async fn shutdown(&self) {
        self.stop.cancel();
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    async fn detach(&self) {
        let Some(detach) = &self.detach else {
            return self.shutdown().await;
        };
        detach.cancel();
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}

/// Instances for unit tests: a pipe whose other end the test reads, and
/// that stops at once.
#[cfg(test)]
pub(crate) mod testing {
    use bytes::Bytes;
    use tokio::sync::mpsc;

    use super::{Instance, InstanceControl};
    use crate::backend::to_server::ToServer;

    struct Stopped;

    #[async_trait::async_trait]
    impl InstanceControl for Stopped {
        async fn shutdown(&self) {}
    }

    /// An instance whose messages arrive on the returned receiver.
    pub(crate) fn pipe() -> (Instance, mpsc::Receiver<Bytes>) {
        let (tx, rx) = mpsc::channel(16);
        let instance = Instance {
            id: "test".into(),
            resume: None,
            outbound: ToServer::queue(tx),
            control: Box::new(Stopped),
        };
        (instance, rx)
    }
}
