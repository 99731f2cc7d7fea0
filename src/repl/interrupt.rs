//! Ctrl-C while a query runs: SIGINT sets the session's cancel flag instead of killing Tarn.
//!
//! At the prompt the terminal is in raw mode, so Ctrl-C arrives as a key that rustyline reports
//! (the REPL clears the line); while a statement runs it arrives as SIGINT, handled here.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Routes every SIGINT for the rest of the process to `flag`. The listener is registered before
/// this returns, so no Ctrl-C after it can fall through to the default action and kill the REPL.
pub fn forward_to(flag: Arc<AtomicBool>) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut interrupts = {
        let _context = runtime.enter();
        listen()?
    };
    std::thread::Builder::new().name("tarn-sigint".into()).spawn(move || {
        runtime.block_on(async {
            while interrupts.next().await {
                flag.store(true, Ordering::SeqCst);
            }
        })
    })?;
    Ok(())
}

#[cfg(unix)]
struct Interrupts(tokio::signal::unix::Signal);

#[cfg(unix)]
fn listen() -> io::Result<Interrupts> {
    use tokio::signal::unix::{signal, SignalKind};
    signal(SignalKind::interrupt()).map(Interrupts)
}

#[cfg(unix)]
impl Interrupts {
    async fn next(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}

#[cfg(not(unix))]
struct Interrupts(tokio::signal::windows::CtrlC);

#[cfg(not(unix))]
fn listen() -> io::Result<Interrupts> {
    tokio::signal::windows::ctrl_c().map(Interrupts)
}

#[cfg(not(unix))]
impl Interrupts {
    async fn next(&mut self) -> bool {
        self.0.recv().await.is_some()
    }
}
