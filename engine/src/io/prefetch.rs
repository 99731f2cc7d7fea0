//! Fetching morsels' bytes ahead of the workers that decode them (design §2: I/O overlaps
//! compute). Opening a scan starts the first fetches on the I/O runtime; every `take(i)` starts
//! the next ones before waiting for morsel `i`, so while a worker decodes one morsel the bytes
//! of the following ones are already on their way. Fetched-but-unread morsels are bounded by
//! the window, which bounds the memory prefetching holds.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use crate::error::{EngineError, Result};

/// Produces the future that fetches morsel `i`'s bytes.
pub type FetchFn<T> = Arc<dyn Fn(usize) -> BoxFuture<'static, Result<T>> + Send + Sync>;

enum Slot<T> {
    NotStarted,
    Running(JoinHandle<Result<T>>),
    Taken,
}

/// The in-flight fetches of one opened scan.
pub struct Prefetcher<T: Send + 'static> {
    io: Handle,
    fetch: FetchFn<T>,
    slots: Vec<Mutex<Slot<T>>>,
    /// The next morsel index the prefetcher has not yet considered starting.
    next: AtomicUsize,
    /// Prefetched fetches whose bytes nobody has taken yet.
    in_flight: AtomicUsize,
    window: usize,
}

impl<T: Send + 'static> Prefetcher<T> {
    /// Starts fetching the first `window` of `count` morsels.
    pub fn start(io: Handle, count: usize, window: usize, fetch: FetchFn<T>) -> Prefetcher<T> {
        let prefetcher = Prefetcher {
            io,
            fetch,
            slots: (0..count).map(|_| Mutex::new(Slot::NotStarted)).collect(),
            next: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            window: window.max(1),
        };
        prefetcher.top_up();
        prefetcher
    }

    pub fn count(&self) -> usize {
        self.slots.len()
    }

    /// Waits for morsel `index`'s bytes (fetching them now if no prefetch started), after
    /// starting the next prefetches. Each morsel can be taken once.
    pub fn take(&self, index: usize) -> Result<T> {
        let slot = self
            .slots
            .get(index)
            .ok_or_else(|| EngineError::execution(format!("morsel {index} of {} does not exist", self.slots.len())))?;
        let (handle, prefetched) = match std::mem::replace(&mut *lock(slot), Slot::Taken) {
            Slot::Running(handle) => (handle, true),
            Slot::NotStarted => (self.io.spawn((self.fetch)(index)), false),
            Slot::Taken => return Err(EngineError::execution(format!("morsel {index} was read twice"))),
        };
        self.top_up();
        let result = futures::executor::block_on(handle);
        if prefetched {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.top_up();
        }
        result.map_err(|e| EngineError::execution(format!("fetching morsel {index} failed: {e}")))?
    }

    /// Starts prefetches in morsel order until the window is full.
    fn top_up(&self) {
        loop {
            let claimed = self
                .in_flight
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < self.window).then_some(n + 1));
            if claimed.is_err() {
                return;
            }
            let index = self.next.fetch_add(1, Ordering::AcqRel);
            let Some(slot) = self.slots.get(index) else {
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
                return;
            };
            let mut slot = lock(slot);
            if matches!(*slot, Slot::NotStarted) {
                *slot = Slot::Running(self.io.spawn((self.fetch)(index)));
            } else {
                // Taken on demand already: give the window slot back and try the next morsel.
                self.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

impl<T: Send + 'static> Drop for Prefetcher<T> {
    /// A scan dropped early (LIMIT, an error, cancellation) stops fetching bytes nobody will read.
    fn drop(&mut self) {
        for slot in &self.slots {
            if let Slot::Running(handle) = &*lock(slot) {
                handle.abort();
            }
        }
    }
}

fn lock<T>(slot: &Mutex<Slot<T>>) -> MutexGuard<'_, Slot<T>> {
    // Slots are replaced whole under the lock, so a poisoned one still holds a valid state.
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;

    use futures::FutureExt;

    use super::*;
    use crate::io::runtime::io_runtime;

    #[test]
    fn prefetches_ahead_within_the_window_and_returns_every_morsel_once() {
        let started = Arc::new(AtomicU64::new(0));
        let counter = started.clone();
        let fetch: FetchFn<usize> = Arc::new(move |i| {
            counter.fetch_add(1, Ordering::SeqCst);
            async move { Ok(i * 10) }.boxed()
        });
        let prefetcher = Prefetcher::start(io_runtime().handle().clone(), 10, 3, fetch);
        assert_eq!(started.load(Ordering::SeqCst), 3);
        assert_eq!(prefetcher.take(0).unwrap(), 0);
        assert_eq!(prefetcher.take(7).unwrap(), 70);
        assert!(prefetcher.take(7).is_err());
        for i in (1..10).filter(|i| *i != 7) {
            assert_eq!(prefetcher.take(i).unwrap(), i * 10);
        }
        assert_eq!(started.load(Ordering::SeqCst), 10);
        assert!(prefetcher.take(10).is_err());
    }

    #[test]
    fn fetch_errors_reach_the_reader() {
        let fetch: FetchFn<u8> = Arc::new(|_| async { Err(EngineError::execution("boom")) }.boxed());
        let prefetcher = Prefetcher::start(io_runtime().handle().clone(), 2, 4, fetch);
        assert!(matches!(prefetcher.take(1), Err(EngineError::Execution(m)) if m == "boom"));
    }
}
