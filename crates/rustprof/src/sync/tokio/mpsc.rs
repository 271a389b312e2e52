//! tokio's multi-producer channels, their waits in the block profile: a
//! `send` into a full bounded channel, a `recv` from an empty one.
//!
//! The wrappers dereference to tokio's types for everything else
//! (`try_send`, `capacity`, `close`, ...), which is not timed.

use std::ops::{Deref, DerefMut};

use ::tokio::sync::mpsc as tm;
use tm::error::{SendError, TryRecvError, TrySendError};

use super::wait::Wait;

pub use tm::UnboundedSender;

/// A bounded channel of `buffer` messages ([`tokio::sync::mpsc::channel`]).
pub fn channel<T>(buffer: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = tm::channel(buffer);
    (Sender(tx), Receiver(rx))
}

/// An unbounded channel ([`tokio::sync::mpsc::unbounded_channel`]): sends
/// never wait; receives are timed.
pub fn unbounded_channel<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let (tx, rx) = tm::unbounded_channel();
    (tx, UnboundedReceiver(rx))
}

/// The sending half of a bounded channel.
#[derive(Debug)]
pub struct Sender<T>(tm::Sender<T>);

/// The receiving half of a bounded channel.
#[derive(Debug)]
pub struct Receiver<T>(tm::Receiver<T>);

/// The receiving half of an unbounded channel.
#[derive(Debug)]
pub struct UnboundedReceiver<T>(tm::UnboundedReceiver<T>);

impl<T> Sender<T> {
    /// Sends, waiting while the channel is full (a block profile event).
    pub async fn send(&self, value: T) -> Result<(), SendError<T>> {
        let value = match self.0.try_send(value) {
            Ok(()) => return Ok(()),
            Err(TrySendError::Closed(v)) => return Err(SendError(v)),
            Err(TrySendError::Full(v)) => v,
        };
        let wait = Wait::begin(None);
        let r = self.0.send(value).await;
        wait.finish();
        r
    }

    /// tokio's sender.
    pub fn into_inner(self) -> tm::Sender<T> {
        self.0
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> From<tm::Sender<T>> for Sender<T> {
    fn from(s: tm::Sender<T>) -> Self {
        Sender(s)
    }
}

impl<T> Deref for Sender<T> {
    type Target = tm::Sender<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// `recv` with the wait timed: one `try_recv`, then tokio's `recv`.
macro_rules! timed_recv {
    ($rx:expr) => {{
        match $rx.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                let wait = Wait::begin(None);
                let r = $rx.recv().await;
                wait.finish();
                r
            }
        }
    }};
}

impl<T> Receiver<T> {
    /// The next message, waiting while the channel is empty (a block profile
    /// event); `None` once it is closed and drained.
    pub async fn recv(&mut self) -> Option<T> {
        timed_recv!(self.0)
    }

    /// tokio's receiver.
    pub fn into_inner(self) -> tm::Receiver<T> {
        self.0
    }
}

impl<T> UnboundedReceiver<T> {
    /// The next message, waiting while the channel is empty (a block profile
    /// event); `None` once it is closed and drained.
    pub async fn recv(&mut self) -> Option<T> {
        timed_recv!(self.0)
    }

    /// tokio's receiver.
    pub fn into_inner(self) -> tm::UnboundedReceiver<T> {
        self.0
    }
}

macro_rules! wrapper {
    ($t:ident) => {
        impl<T> From<tm::$t<T>> for $t<T> {
            fn from(r: tm::$t<T>) -> Self {
                $t(r)
            }
        }

        impl<T> Deref for $t<T> {
            type Target = tm::$t<T>;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl<T> DerefMut for $t<T> {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }
    };
}

wrapper!(Receiver);
wrapper!(UnboundedReceiver);
