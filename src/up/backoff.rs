//! How long `herd up` waits before restarting a child that exited: the
//! restart policy alone, without processes or clocks, so that it can be
//! tested on its own. The wait starts short, doubles with each exit up to
//! a cap (a child that fails at once cannot make the supervisor spin), and
//! starts short again after a child that had been answering for a while.

use std::time::Duration;

use crate::limits::{UP_RESTART_MAX, UP_RESTART_MIN, UP_RESTART_RESET};

/// The restart backoff of one server.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    reset_after: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(UP_RESTART_MIN, UP_RESTART_MAX, UP_RESTART_RESET)
    }
}

impl Backoff {
    pub fn new(min: Duration, max: Duration, reset_after: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            reset_after,
            next: min,
        }
    }

    /// The wait before restarting a child that had been answering for
    /// `answered_for` when it exited (zero: it never answered).
    pub fn after_exit(&mut self, answered_for: Duration) -> Duration {
        if answered_for >= self.reset_after {
            self.next = self.min;
        }
        let wait = self.next;
        self.next = (self.next * 2).min(self.max);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_wait_doubles_up_to_the_cap() {
        let mut backoff = Backoff::new(ms(100), ms(5000), ms(10_000));
        let waits: Vec<u64> = (0..9)
            .map(|_| backoff.after_exit(Duration::ZERO).as_millis() as u64)
            .collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    }

    #[test]
    fn a_child_that_answered_long_enough_restarts_after_the_first_wait() {
        let mut backoff = Backoff::new(ms(100), ms(5000), ms(10_000));
        for _ in 0..5 {
            backoff.after_exit(ms(50));
        }
        // Up for less than the reset time: the backoff keeps growing.
        assert_eq!(backoff.after_exit(ms(9_999)), ms(3200));
        // Up for the reset time: back to the first wait, then doubling.
        assert_eq!(backoff.after_exit(ms(10_000)), ms(100));
        assert_eq!(backoff.after_exit(Duration::ZERO), ms(200));
    }

    #[test]
    fn the_defaults_are_the_limits() {
        let mut backoff = Backoff::default();
        assert_eq!(backoff.after_exit(Duration::ZERO), UP_RESTART_MIN);
        for _ in 0..20 {
            backoff.after_exit(Duration::ZERO);
        }
        assert_eq!(backoff.after_exit(Duration::ZERO), UP_RESTART_MAX);
        assert_eq!(backoff.after_exit(UP_RESTART_RESET), UP_RESTART_MIN);
    }
}
