//! tokio's watch channel; `changed()` waiting for a new value is timed, in the
//! block profile.

use std::ops::{Deref, DerefMut};

use ::tokio::sync::watch as tw;

use super::wait::Wait;

pub use tw::Sender;
pub use tw::error::RecvError;

/// A watch channel holding `init` ([`tokio::sync::watch::channel`]).
pub fn channel<T>(init: T) -> (Sender<T>, Receiver<T>) {
    let (tx, rx) = tw::channel(init);
    (tx, Receiver(rx))
}

/// A receiving half; dereferences to tokio's (`borrow`, `has_changed`, ...).
#[derive(Debug)]
pub struct Receiver<T>(tw::Receiver<T>);

impl<T> Receiver<T> {
    /// Waits for a value not seen yet (a block profile event when there is
    /// none already), and marks it seen.
    pub async fn changed(&mut self) -> Result<(), RecvError> {
        if !matches!(self.0.has_changed(), Ok(false)) {
            // Changed already, or closed: no wait.
            return self.0.changed().await;
        }
        let wait = Wait::begin(None);
        let r = self.0.changed().await;
        wait.finish();
        r
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        Receiver(self.0.clone())
    }
}

impl<T> From<tw::Receiver<T>> for Receiver<T> {
    fn from(r: tw::Receiver<T>) -> Self {
        Receiver(r)
    }
}

impl<T> Deref for Receiver<T> {
    type Target = tw::Receiver<T>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl<T> DerefMut for Receiver<T> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
