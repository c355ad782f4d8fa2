//! No silent passes: a test whose precondition is missing (a herd binary,
//! root for network namespaces) fails and says what is missing, unless
//! `HERD_ALLOW_SKIP=1` asks for it to be skipped.

/// The opt-out variable: `HERD_ALLOW_SKIP=1` lets such tests skip.
pub const ALLOW_SKIP: &str = "HERD_ALLOW_SKIP";

/// Whether `HERD_ALLOW_SKIP=1` is set.
pub fn skip_allowed() -> bool {
    std::env::var(ALLOW_SKIP).is_ok_and(|v| v == "1")
}

/// A test cannot run because of `reason`: prints `SKIPPED` and returns
/// (the caller then returns) when skipping is allowed; panics with the
/// reason otherwise.
#[track_caller]
pub fn skip_or_fail(reason: &str) {
    if skip_allowed() {
        eprintln!("SKIPPED ({ALLOW_SKIP}=1): {reason}");
        return;
    }
    panic!("{reason} (set {ALLOW_SKIP}=1 to skip this test instead)");
}
