//! Blocking channel waits in the block profile: `recv` and `send` of
//! `std::sync::mpsc` (and of `crossbeam-channel`, feature
//! `crossbeam-channel`) through [`BlockEvent`].
//!
//! Each helper tries the non-blocking form first; only when it would block
//! is the wait timed (while the block profile is on) and recorded at the
//! caller's stack, with Go's rate semantics.
//!
//! ```
//! use rustprof::sync::channels::{ProfiledRecv, ProfiledSend};
//! let (tx, rx) = std::sync::mpsc::sync_channel(1);
//! std::thread::spawn(move || tx.send_profiled(7).unwrap());
//! assert_eq!(rx.recv_profiled(), Ok(7));
//! ```

use super::BlockEvent;

/// A receiving end whose blocking `recv` is timed.
pub trait ProfiledRecv<T> {
    /// The error of a failed receive (the channel disconnected).
    type Error;
    /// `recv`, with a wait recorded in the block profile.
    fn recv_profiled(&self) -> Result<T, Self::Error>;
}

/// A sending end whose blocking `send` is timed.
pub trait ProfiledSend<T> {
    /// The error of a failed send (the value back).
    type Error;
    /// `send`, with a wait (a full bounded channel) recorded in the block profile.
    fn send_profiled(&self, value: T) -> Result<(), Self::Error>;
}

impl<T> ProfiledRecv<T> for std::sync::mpsc::Receiver<T> {
    type Error = std::sync::mpsc::RecvError;

    #[inline]
    fn recv_profiled(&self) -> Result<T, Self::Error> {
        use std::sync::mpsc::TryRecvError;
        match self.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Disconnected) => Err(std::sync::mpsc::RecvError),
            Err(TryRecvError::Empty) => {
                let ev = BlockEvent::start();
                let r = self.recv();
                ev.finish();
                r
            }
        }
    }
}

impl<T> ProfiledSend<T> for std::sync::mpsc::SyncSender<T> {
    type Error = std::sync::mpsc::SendError<T>;

    #[inline]
    fn send_profiled(&self, value: T) -> Result<(), Self::Error> {
        use std::sync::mpsc::{SendError, TrySendError};
        match self.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(v)) => Err(SendError(v)),
            Err(TrySendError::Full(v)) => {
                let ev = BlockEvent::start();
                let r = self.send(v);
                ev.finish();
                r
            }
        }
    }
}

#[cfg(feature = "crossbeam-channel")]
impl<T> ProfiledRecv<T> for crossbeam_channel::Receiver<T> {
    type Error = crossbeam_channel::RecvError;

    #[inline]
    fn recv_profiled(&self) -> Result<T, Self::Error> {
        use crossbeam_channel::TryRecvError;
        match self.try_recv() {
            Ok(v) => Ok(v),
            Err(TryRecvError::Disconnected) => Err(crossbeam_channel::RecvError),
            Err(TryRecvError::Empty) => {
                let ev = BlockEvent::start();
                let r = self.recv();
                ev.finish();
                r
            }
        }
    }
}

#[cfg(feature = "crossbeam-channel")]
impl<T> ProfiledSend<T> for crossbeam_channel::Sender<T> {
    type Error = crossbeam_channel::SendError<T>;

    #[inline]
    fn send_profiled(&self, value: T) -> Result<(), Self::Error> {
        use crossbeam_channel::{SendError, TrySendError};
        match self.try_send(value) {
            Ok(()) => Ok(()),
            Err(TrySendError::Disconnected(v)) => Err(SendError(v)),
            Err(TrySendError::Full(v)) => {
                let ev = BlockEvent::start();
                let r = self.send(v);
                ev.finish();
                r
            }
        }
    }
}
