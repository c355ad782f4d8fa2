//! SIGTERM/SIGINT as a callback: `echo` and `hold` run until told to stop,
//! then still print their JSON. A plain thread waits for the signal, so it
//! works with or without a tokio runtime.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Calls `then` once, on the first SIGTERM or SIGINT. If the handlers cannot
/// be installed the signals keep their default action (the process ends).
pub fn on_signal(then: impl FnOnce() + Send + 'static) {
    let Ok(mut signals) = Signals::new([SIGTERM, SIGINT]) else {
        eprintln!("herd-loadgen: cannot catch SIGTERM/SIGINT; they will end the process");
        return;
    };
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            then();
        }
    });
}
