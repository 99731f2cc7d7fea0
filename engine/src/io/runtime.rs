//! The process-wide tokio runtime reserved for object-store I/O. Operators run synchronously on
//! rayon and only block to await bytes they need (design §2), so this runtime does no compute and
//! two worker threads keep many requests in flight.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

use crate::error::{EngineError, Result};

/// Worker threads of the I/O runtime: requests are waiting on the network, not on a CPU.
const IO_WORKER_THREADS: usize = 2;

/// The I/O runtime, created on first use and alive for the rest of the process.
pub fn io_runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .worker_threads(IO_WORKER_THREADS)
            .thread_name("tarn-io")
            .enable_all()
            .build()
            // Building a runtime fails only when the OS refuses threads or an epoll instance;
            // nothing in Tarn can run without I/O, so this is fatal by design.
            .expect("the operating system refused to start the tarn-io runtime threads")
    })
}

/// Runs `future` on the I/O runtime and blocks the calling (rayon or main) thread until it ends.
/// Unlike `Handle::block_on` this is safe to call from inside another runtime's context; a panic
/// in the future comes back as an `Execution` error instead of unwinding into the caller.
pub fn block_on_io<F>(io: &Handle, future: F) -> Result<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = io.spawn(future);
    futures::executor::block_on(task).map_err(|e| EngineError::execution(format!("I/O task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_is_created_once_and_runs_tasks() {
        let a = io_runtime() as *const Runtime;
        let b = io_runtime() as *const Runtime;
        assert_eq!(a, b);
        let answer = io_runtime().block_on(async { io_runtime().spawn(async { 41 + 1 }).await });
        assert_eq!(answer.ok(), Some(42));
    }
}
