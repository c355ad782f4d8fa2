//! Raises the open-files limit at start-up, as Redis does for `maxclients`.
//!
//! Many systems start processes with a soft limit of 1,024 descriptors and a
//! much higher hard limit. The blocking node holds two descriptors per
//! client (the socket, and the handle `shutdown.rs` keeps to wake its
//! worker when the node stops), so the default `max_clients` of 1,024
//! would run out of descriptors at about 500 clients. The soft limit is
//! raised towards what the configured limits need, never above the hard
//! limit; if that is not enough, the node says so once at start-up instead
//! of failing accepts later.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Raises the soft `RLIMIT_NOFILE` to `wanted` (or the hard limit, if that
/// is lower). Returns the soft limit now in force.
pub fn raise_to(wanted: u64) -> Result<u64, String> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|e| format!("cannot read the open-files limit: {e}"))?;
    let target = wanted.min(hard);
    if target <= soft {
        return Ok(soft);
    }
    setrlimit(Resource::RLIMIT_NOFILE, target, hard)
        .map_err(|e| format!("cannot raise the open-files limit to {target}: {e}"))?;
    Ok(target)
}

/// Raises the limit for a node of `max_clients` clients holding
/// `per_client` descriptors each; logs a warning (once, at start-up) if the
/// system allows fewer than that needs.
pub fn raise_for(max_clients: usize, per_client: u64, neighbours: usize) {
    let wanted = needed(max_clients, per_client, neighbours);
    match raise_to(wanted) {
        Ok(now) if now < wanted => log::warn!(
            "the open-files limit is {now}; {max_clients} clients need about {wanted}: \
             raise the hard limit (ulimit -Hn) or lower max_clients"
        ),
        Ok(_) => {}
        Err(e) => log::warn!("{e}"),
    }
}

/// Descriptors a node needs for `max_clients` clients at `per_client`
/// descriptors each, plus its listener, links, log and a margin.
pub fn needed(max_clients: usize, per_client: u64, neighbours: usize) -> u64 {
    (max_clients as u64) * per_client + 2 * neighbours as u64 + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_lowers_the_limit_and_never_passes_the_hard_one() {
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
        assert_eq!(raise_to(1).expect("raise"), soft);
        let now = raise_to(soft.saturating_add(1)).expect("raise");
        assert!(now <= hard && now >= soft);
        assert_eq!(needed(1024, 2, 3), 2048 + 6 + 64);
    }
}
