//! The lab's process-wide duties around its children (which herd-launch
//! starts, each in a process group of its own, stopped on drop): Ctrl-C or
//! SIGTERM cancels every wait and stops every child group, so a run never
//! leaves processes behind; and RLIMIT_NOFILE is raised to the hard limit
//! first, which the children inherit (10,000 held connections).

use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};
use herd_launch::Signal;

/// Fails with "interrupted" once Ctrl-C was pressed.
pub fn check_interrupted() -> Result<()> {
    herd_launch::check_cancelled()
}

/// On SIGINT/SIGTERM: cancel every wait of the lab and SIGTERM every live
/// child group at once; if the lab has not exited 5 s later, SIGKILL them
/// and exit 130.
pub fn install_signal_handler() -> Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .context("cannot install the signal handler")?;
    thread::spawn(move || {
        if signals.forever().next().is_some() {
            herd_launch::cancel();
            eprintln!("herd-lab: interrupted, stopping every child");
            herd_launch::signal_live(Signal::SIGTERM);
            thread::sleep(Duration::from_secs(5));
            herd_launch::signal_live(Signal::SIGKILL);
            std::process::exit(130);
        }
    });
    Ok(())
}

/// Raises the soft open-files limit to the hard one; children inherit it.
pub fn raise_nofile() -> Result<u64> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit")?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).context("setrlimit")?;
    Ok(hard)
}
