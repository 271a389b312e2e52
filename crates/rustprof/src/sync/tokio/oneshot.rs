//! tokio's one-shot channel; awaiting the [`Receiver`] is timed from its first
//! `Pending` to the value (or the sender's drop), in the block profile.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::tokio::sync::oneshot as to;

use super::wait::Wait;

pub use to::Sender;
pub use to::error::{RecvError, TryRecvError};

/// A one-shot channel ([`tokio::sync::oneshot::channel`]).
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = to::channel();
    (tx, Receiver::from(rx))
}

/// The receiving half: a future of the value.
pub struct Receiver<T> {
    inner: to::Receiver<T>,
    wait: Wait<'static>,
}

impl<T> Receiver<T> {
    /// The value if it was sent ([`tokio::sync::oneshot::Receiver::try_recv`]).
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.inner.try_recv()
    }

    /// Prevents the sender from sending.
    pub fn close(&mut self) {
        self.inner.close()
    }
}

impl<T> From<to::Receiver<T>> for Receiver<T> {
    fn from(inner: to::Receiver<T>) -> Self {
        Receiver { inner, wait: Wait::IDLE }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll(cx) {
            Poll::Pending => {
                if !this.wait.started() {
                    this.wait = Wait::begin(None);
                }
                Poll::Pending
            }
            Poll::Ready(v) => {
                std::mem::replace(&mut this.wait, Wait::IDLE).finish();
                Poll::Ready(v)
            }
        }
    }
}
