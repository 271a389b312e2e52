//! tokio's broadcast channel; a `recv` that waits for the next message is
//! timed, in the block profile.

use std::ops::{Deref, DerefMut};

use ::tokio::sync::broadcast as tb;
use tb::error::{RecvError, TryRecvError};

use super::wait::Wait;

/// A broadcast channel of `capacity` messages ([`tokio::sync::broadcast::channel`]).
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = tb::channel(capacity);
    (Sender(tx), Receiver(rx))
}

/// The sending half; dereferences to tokio's (`send` never waits).
#[derive(Debug)]
pub struct Sender<T>(tb::Sender<T>);

/// A receiving half.
#[derive(Debug)]
pub struct Receiver<T>(tb::Receiver<T>);

impl<T> Sender<T> {
    /// A new receiver, of the messages sent from now on.
    pub fn subscribe(&self) -> Receiver<T> {
        Receiver(self.0.subscribe())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender(self.0.clone())
    }
}

impl<T> Deref for Sender<T> {
    type Target = tb::Sender<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> From<tb::Sender<T>> for Sender<T> {
    fn from(s: tb::Sender<T>) -> Self {
        Sender(s)
    }
}

impl<T: Clone> Receiver<T> {
    /// The next message, waiting while there is none (a block profile event).
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        match self.0.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Empty) => {
                let wait = Wait::begin(None);
                let r = self.0.recv().await;
                wait.finish();
                r
            }
        }
    }
}

impl<T: Clone> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver(self.0.resubscribe())
    }
}

impl<T> From<tb::Receiver<T>> for Receiver<T> {
    fn from(r: tb::Receiver<T>) -> Self {
        Receiver(r)
    }
}

impl<T> Deref for Receiver<T> {
    type Target = tb::Receiver<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> DerefMut for Receiver<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
