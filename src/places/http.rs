//! The HTTP plumbing both Google providers share (`google`, `google-new`):
//! one way to build the agent, to read an answer's body, and to put a
//! transport failure into words that are safe to show a client.
//!
//! Input: the configured timeout, and the `ureq` responses and errors a
//! provider gets. Output: an agent (whole-exchange timeout, no redirects,
//! every HTTP status handed back as a response), a body of at most 4 MiB,
//! or a message in our own words. `ureq`'s errors can carry the request URL
//! (the legacy API puts the key in it), so their text is never formatted
//! into a message or a log line; the key itself lives in [`ApiKey`], whose
//! `Debug` never shows it.

use std::fmt;
use std::io;
use std::time::Duration;

use ureq::http::Response;

use crate::limits::{PLACES_BODY_LIMIT, PLACES_IDLE_CONNECTIONS};

/// An API key; its `Debug` never shows it.
pub(super) struct ApiKey(pub(super) String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

/// One agent (connection pool) for every call of a provider, from any
/// number of threads: every call, from DNS lookup to the last body byte,
/// ends within `timeout`.
pub(super) fn agent(timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        // Non-200 answers are mapped by the provider, never by ureq.
        .http_status_as_error(false)
        // A redirect would carry the key to another address: a 3xx is
        // reported as the HTTP status it is.
        .max_redirects(0)
        // ureq keeps 3 idle connections per host by default: with more pool
        // workers than that asking at once, every call past the third opened
        // and closed a connection of its own (the lab's WHATSAT figures).
        // Keep one per worker, up to the largest pool.
        .max_idle_connections(PLACES_IDLE_CONNECTIONS)
        .max_idle_connections_per_host(PLACES_IDLE_CONNECTIONS)
        .build();
    ureq::Agent::new_with_config(config)
}

/// The whole body of `response`, at most [`PLACES_BODY_LIMIT`] bytes, or a
/// client-safe description of why it could not be read.
pub(super) fn read_body(
    response: &mut Response<ureq::Body>,
    timeout_ms: u128,
) -> Result<Vec<u8>, String> {
    response
        .body_mut()
        .with_config()
        .limit(PLACES_BODY_LIMIT)
        .read_to_vec()
        .map_err(|error| describe(&error, Phase::Body, timeout_ms))
}

/// Where in the exchange a ureq error came from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Before the response headers were in.
    Connect,
    /// While reading the response body.
    Body,
}

/// A client-safe description of a ureq error: our own words, never the
/// error's own text (which can hold the URL, hence the key).
pub(super) fn describe(error: &ureq::Error, phase: Phase, timeout_ms: u128) -> String {
    use ureq::Error as E;
    let unreachable = |why: &str| format!("Places could not be reached ({why})");
    match error {
        E::Timeout(_) => format!("Places did not answer within {timeout_ms} ms"),
        E::Io(io_error) => describe_io(io_error, phase, timeout_ms),
        E::HostNotFound => unreachable("host not found"),
        E::ConnectionFailed => unreachable("connection failed"),
        E::Tls(_) | E::TlsRequired | E::Pem(_) | E::Rustls(_) => unreachable("TLS failure"),
        E::ConnectProxyFailed(_) | E::InvalidProxyUrl => unreachable("proxy failure"),
        E::BadUri(_) | E::Http(_) | E::RequireHttpsOnly(_) => {
            "the configured Places URL is not usable".to_owned()
        }
        E::Protocol(_) | E::BodyStalled => "Places answered with malformed HTTP".to_owned(),
        E::LargeResponseHeader(_, _) => "Places answered with an oversized HTTP header".to_owned(),
        E::BodyExceedsLimit(_) => "Places answered with more than 4 MiB".to_owned(),
        E::Decompress(_, _) => "Places answered with a body that could not be unzipped".to_owned(),
        E::StatusCode(status) => format!("Places answered HTTP {status}"),
        E::TooManyRedirects | E::RedirectFailed => "Places redirected the request".to_owned(),
        _ => match phase {
            Phase::Connect => "the request to Places failed".to_owned(),
            Phase::Body => "reading the answer from Places failed".to_owned(),
        },
    }
}

fn describe_io(error: &io::Error, phase: Phase, timeout_ms: u128) -> String {
    use io::ErrorKind as K;
    // std reports a failed name lookup as an uncategorized error whose text
    // starts so; the text holds no URL, and is only compared here.
    if error
        .to_string()
        .starts_with("failed to lookup address information")
    {
        return "Places could not be reached (host not found)".to_owned();
    }
    let why = match error.kind() {
        K::TimedOut | K::WouldBlock => {
            return format!("Places did not answer within {timeout_ms} ms");
        }
        K::UnexpectedEof => {
            return match phase {
                Phase::Connect => "Places closed the connection without answering".to_owned(),
                Phase::Body => "Places closed the connection mid-answer".to_owned(),
            };
        }
        // rustls reports a failed handshake so; ureq reports a malformed
        // plain HTTP answer as `Error::Protocol`, not as this.
        K::InvalidData if phase == Phase::Connect => "TLS failure",
        K::InvalidData => return "Places answered with a corrupt body".to_owned(),
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset => "connection reset",
        K::ConnectionAborted => "connection aborted",
        K::BrokenPipe => "broken pipe",
        K::NotConnected => "not connected",
        K::AddrNotAvailable => "address not available",
        K::NetworkUnreachable => "network unreachable",
        K::HostUnreachable => "host unreachable",
        K::NetworkDown => "network down",
        _ => "I/O error",
    };
    match phase {
        Phase::Connect => format!("Places could not be reached ({why})"),
        Phase::Body => format!("the connection to Places failed mid-answer ({why})"),
    }
}

/// A provider status word as it may go into a log line or a message:
/// letters, digits and `_` only, at most 40 of them.
pub(super) fn safe_word(word: &str) -> String {
    word.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_described_in_our_words() {
        let refused = ureq::Error::Io(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            describe(&refused, Phase::Connect, 5000),
            "Places could not be reached (connection refused)"
        );
        let eof = ureq::Error::Io(io::Error::from(io::ErrorKind::UnexpectedEof));
        assert_eq!(
            describe(&eof, Phase::Body, 5000),
            "Places closed the connection mid-answer"
        );
        let leaky = ureq::Error::BadUri("http://h/p?key=SECRET".to_owned());
        assert!(!describe(&leaky, Phase::Connect, 5000).contains("SECRET"));
        let timeout = ureq::Error::Timeout(ureq::Timeout::Global);
        assert_eq!(
            describe(&timeout, Phase::Body, 250),
            "Places did not answer within 250 ms"
        );
    }

    #[test]
    fn safe_word_strips_odd_characters() {
        assert_eq!(safe_word("REQUEST_DENIED"), "REQUEST_DENIED");
        assert_eq!(safe_word("A\nB?key=x"), "ABkeyx");
    }

    #[test]
    fn api_key_debug_is_redacted() {
        let shown = format!("{:?}", ApiKey("SECRET-KEY".to_owned()));
        assert_eq!(shown, "\"<redacted>\"");
    }
}
