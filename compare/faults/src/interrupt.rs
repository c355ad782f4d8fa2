//! Ctrl-C and SIGTERM: the first one sets a flag that every wait of the
//! harness checks, so it unwinds and its guards stop the servers and remove
//! the namespaces; a second one exits at once. The flag is herd-launch's
//! cancel flag, so its waits for a server to answer give up too.

use anyhow::{Context, Result};

pub fn install() -> Result<()> {
    let flag = herd_launch::cancel_flag();
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Order matters: the exit is armed before the flag can be set.
        signal_hook::flag::register_conditional_shutdown(sig, 130, flag.clone())
            .context("cannot install the signal handler")?;
        signal_hook::flag::register(sig, flag.clone())
            .context("cannot install the signal handler")?;
    }
    Ok(())
}

pub fn interrupted() -> bool {
    herd_launch::cancelled()
}

/// Fails with "interrupted" once Ctrl-C was pressed.
pub fn check() -> Result<()> {
    herd_launch::check_cancelled()
}
