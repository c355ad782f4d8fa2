//! The `google` Places provider: asks Google's legacy Nearby Search web
//! service (docs/places.md, "What Google says") what is near a WHATSAT
//! client's location.
//!
//! Input: a [`NearbyQuery`] from the WHATSAT command (its client's location and
//! radius), plus the endpoint URL, API key and timeout from the herd's
//! configuration. Output: the provider's JSON object, keys and numbers as
//! Google wrote them, for `answer_json` (`answer.rs`) to cut and lay out; or a
//! [`PlacesError`] whose message is safe to show a client.
//!
//! Legacy Nearby Search reports its own errors (`REQUEST_DENIED`,
//! `INVALID_REQUEST`, `OVER_QUERY_LIMIT`, ...) in an HTTP 200 body; such an
//! object is returned as it is, and `answer_json` turns it into the error
//! object with Google's status and `error_message`. Everything else that can
//! go wrong (timeout, no connection, HTTP status other than 200, a body that
//! is too big, cut short or not JSON) becomes `UNKNOWN_ERROR` with a message
//! in our own words: ureq's errors can carry the request URL, and the URL
//! carries the key, so they are never formatted into a message or a log line.
//! The agent, body reading and those words are shared with `google-new`
//! (`http.rs`).

use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::http::{self, ApiKey, Phase, describe, safe_word};
use super::provider::{NearbyQuery, Places, PlacesError};

/// Google's legacy Nearby Search endpoint (JSON output).
pub const LEGACY_URL: &str = "https://maps.googleapis.com/maps/api/place/nearbysearch/json";

/// The legacy Nearby Search provider. One shared HTTP agent (connection
/// pool) serves every call, from any number of threads.
pub struct Google {
    agent: ureq::Agent,
    url: String,
    key: ApiKey,
    timeout: Duration,
}

impl fmt::Debug for Google {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Google")
            .field("url", &self.url)
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Google {
    /// A provider asking the endpoint at `url` (normally [`LEGACY_URL`]; an
    /// empty `url` means [`LEGACY_URL`]) with API key `key`; every call, from
    /// DNS lookup to the last body byte, ends within `timeout`.
    pub fn new(url: &str, key: String, timeout: Duration) -> Google {
        let url = if url.is_empty() { LEGACY_URL } else { url };
        Google {
            agent: http::agent(timeout),
            url: url.to_owned(),
            key: ApiKey(key),
            timeout,
        }
    }

    fn request_url(&self, query: &NearbyQuery) -> String {
        request_url(&self.url, &self.key.0, query)
    }

    fn timeout_ms(&self) -> u128 {
        self.timeout.as_millis()
    }
}

impl Places for Google {
    fn nearby(&self, query: &NearbyQuery) -> Result<Value, PlacesError> {
        let url = self.request_url(query);
        let mut response = match self.agent.get(&url).call() {
            Ok(response) => response,
            Err(error) => {
                return Err(failure(describe(&error, Phase::Connect, self.timeout_ms())));
            }
        };
        check_status(response.status().as_u16())?;
        let body = http::read_body(&mut response, self.timeout_ms()).map_err(failure)?;
        parse_answer(&body)
    }
}

/// `{base}?location=LAT,LNG&radius=METRES&key=KEY`, each value
/// percent-encoded except the comma between latitude and longitude
/// (Google accepts it either way). Shared with the tokio build.
pub fn request_url(base: &str, key: &str, query: &NearbyQuery) -> String {
    let base = if base.is_empty() { LEGACY_URL } else { base };
    let mut url = String::with_capacity(base.len() + 64 + key.len() * 3);
    url.push_str(base);
    url.push(if base.contains('?') { '&' } else { '?' });
    url.push_str("location=");
    percent_encode_into(&mut url, &query.lat.to_string());
    url.push(',');
    percent_encode_into(&mut url, &query.lng.to_string());
    url.push_str("&radius=");
    percent_encode_into(&mut url, &query.radius_m_text);
    url.push_str("&key=");
    percent_encode_into(&mut url, key);
    url
}

/// Legacy Nearby Search answers 200 even for its own errors: any other
/// HTTP status is a failure.
pub fn check_status(status: u16) -> Result<(), PlacesError> {
    if status == 200 {
        Ok(())
    } else {
        Err(failure(format!("Places answered HTTP {status}")))
    }
}

/// The legacy answer object in a 200 body, as Google wrote it (its own
/// error statuses included: `answer_json` shapes those).
pub fn parse_answer(body: &[u8]) -> Result<Value, PlacesError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| failure("Places answered with malformed JSON".to_owned()))?;
    let Some(object) = value.as_object() else {
        return Err(failure(
            "Places answered with JSON that is not an object".to_owned(),
        ));
    };
    match object.get("status").and_then(Value::as_str) {
        Some("OK" | "ZERO_RESULTS") => {}
        Some(other) => log::warn!("google places: Places answered {}", safe_word(other)),
        None => log::warn!("google places: Places answered without a status"),
    }
    Ok(value)
}

/// Logs a failure and makes it an `UNKNOWN_ERROR`; `message` is one of
/// ours, safe to show.
pub fn failure(message: String) -> PlacesError {
    log::warn!("google places: {message}");
    PlacesError::new("UNKNOWN_ERROR", message)
}

/// Appends `text` to `out` with every byte outside the URI unreserved set
/// (`A-Z a-z 0-9 - . _ ~`, RFC 3986 §2.3) written as `%XX`.
fn percent_encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(lat: f64, lng: f64, radius: &str) -> NearbyQuery {
        NearbyQuery {
            lat,
            lng,
            radius_m_text: radius.to_owned(),
            radius_m: radius.parse().unwrap(),
            bound: 5,
        }
    }

    fn encode(text: &str) -> String {
        let mut out = String::new();
        percent_encode_into(&mut out, text);
        out
    }

    #[test]
    fn url_carries_location_radius_and_key() {
        let google = Google::new(
            LEGACY_URL,
            "AIzaSyAbc-_.~123".to_owned(),
            Duration::from_secs(5),
        );
        assert_eq!(
            google.request_url(&query(34.06893, -118.445127, "10000")),
            "https://maps.googleapis.com/maps/api/place/nearbysearch/json\
             ?location=34.06893,-118.445127&radius=10000&key=AIzaSyAbc-_.~123"
        );
    }

    #[test]
    fn coordinates_never_use_an_exponent() {
        let google = Google::new("http://h/p", "k".to_owned(), Duration::from_secs(5));
        assert_eq!(
            google.request_url(&query(1e-7, -180.0, "1234.5")),
            "http://h/p?location=0.0000001,-180&radius=1234.5&key=k"
        );
        assert_eq!(
            google.request_url(&query(-0.000001, 0.0, "1")),
            "http://h/p?location=-0.000001,0&radius=1&key=k"
        );
        assert_eq!(
            google.request_url(&query(90.0, 179.99999999999997, "50000")),
            "http://h/p?location=90,179.99999999999997&radius=50000&key=k"
        );
    }

    #[test]
    fn empty_url_means_the_legacy_endpoint() {
        let google = Google::new("", "k".to_owned(), Duration::from_secs(5));
        assert!(
            google
                .request_url(&query(1.0, 2.0, "3"))
                .starts_with(LEGACY_URL)
        );
    }

    #[test]
    fn existing_query_string_is_extended() {
        let google = Google::new(
            "http://h/p?language=en",
            "k".to_owned(),
            Duration::from_secs(5),
        );
        assert_eq!(
            google.request_url(&query(1.5, 2.5, "10")),
            "http://h/p?language=en&location=1.5,2.5&radius=10&key=k"
        );
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved() {
        assert_eq!(encode("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(encode("a b+c&d=e"), "a%20b%2Bc%26d%3De");
        assert_eq!(
            encode("/?#[]@!$'()*,;:%\""),
            "%2F%3F%23%5B%5D%40%21%24%27%28%29%2A%2C%3B%3A%25%22"
        );
        assert_eq!(encode("é\n\u{7f}"), "%C3%A9%0A%7F");
        assert_eq!(encode(""), "");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let google = Google::new(
            LEGACY_URL,
            "SECRET-KEY-123".to_owned(),
            Duration::from_secs(5),
        );
        let shown = format!("{google:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    /// A server that answers plain HTTP at once, whatever it is sent.
    fn plain_http_server() -> u16 {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Some(Ok(mut stream)) = listener.incoming().next() {
                let mut buffer = [0_u8; 4096];
                let _ = stream.read(&mut buffer);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        port
    }

    #[test]
    fn tls_to_a_plain_http_server_is_a_tls_failure() {
        let port = plain_http_server();
        let url = format!("https://127.0.0.1:{port}/maps/api/place/nearbysearch/json");
        let google = Google::new(&url, "SECRET".to_owned(), Duration::from_secs(5));
        assert_eq!(
            google.nearby(&query(1.0, 2.0, "3")),
            Err(PlacesError::new(
                "UNKNOWN_ERROR",
                "Places could not be reached (TLS failure)"
            ))
        );
    }

    #[test]
    fn unusable_url_is_reported_without_the_url() {
        for url in ["ftp://h/p", "not a url", "http://"] {
            let google = Google::new(url, "SECRET".to_owned(), Duration::from_secs(5));
            let error = google.nearby(&query(1.0, 2.0, "3")).unwrap_err();
            assert_eq!(
                error.message, "the configured Places URL is not usable",
                "{url}"
            );
        }
    }
}
