//! Places for the tokio build: the same three providers, asked without
//! blocking a thread.
//!
//! Everything but the HTTP exchange comes from the root crate: the legacy
//! request URL (`herd::places::google::request_url`), the New request body
//! and answer mapping (`herd::places::google_new`), the legacy status check
//! and answer parsing, the 4 MiB body cap, and, in `cmd.rs`, the shaping of
//! the WHATSAT JSON. The exchange itself goes through hyper's pooled async
//! client (rustls for https), bounded by one deadline from the first byte
//! of the connection to the last byte of the body, so a WHATSAT waiting on
//! Places parks its task and holds no thread. The offline provider runs
//! inline on the worker: a query costs tens of microseconds, less than a
//! hand-off to a blocking thread would.
//!
//! Failures are put into the blocking build's words ("Places did not answer
//! within N ms", "Places could not be reached (connection refused)", ...);
//! error texts from hyper are never formatted into a message or a log line,
//! and the API key lives in [`ApiKey`], whose `Debug` never shows it.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use herd::config::{ConfigError, PlacesConfig, Provider as ProviderKind};
use herd::places::{self, NearbyQuery, Offline, Places, PlacesError, google, google_new};
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::time::Instant;

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The configured provider.
pub enum Provider {
    Offline(Offline),
    /// Nearby Search (legacy).
    Google(Remote),
    /// Places API (New), mapped onto the legacy shape.
    GoogleNew(Remote),
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::Offline(_) => f.write_str("Offline"),
            Provider::Google(remote) => f.debug_tuple("Google").field(remote).finish(),
            Provider::GoogleNew(remote) => f.debug_tuple("GoogleNew").field(remote).finish(),
        }
    }
}

/// A Google endpoint: one pooled client, the URL, the key and the timeout.
pub struct Remote {
    client: HttpClient,
    url: String,
    key: ApiKey,
    timeout: Duration,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("url", &self.url)
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// An API key; its `Debug` never shows it.
struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl Provider {
    /// The provider the config names. `api_key` is `PLACES_API_KEY`; the
    /// same checks as the blocking build, with the same messages.
    pub fn from_config(
        config: &PlacesConfig,
        api_key: Option<String>,
    ) -> Result<Provider, ConfigError> {
        match config.provider {
            ProviderKind::Offline => Offline::new()
                .map(Provider::Offline)
                .map_err(|e| ConfigError(format!("offline Places data cannot be loaded: {e}"))),
            ProviderKind::Google => {
                let key = places::required_key(api_key, "google")?;
                let url = config
                    .url
                    .clone()
                    .unwrap_or_else(|| google::LEGACY_URL.to_owned());
                Ok(Provider::Google(Remote::new(url, key, config.timeout)?))
            }
            ProviderKind::GoogleNew => {
                let key = places::required_key(api_key, "google-new")?;
                let url = config
                    .url
                    .clone()
                    .unwrap_or_else(|| google_new::NEW_URL.to_owned());
                Ok(Provider::GoogleNew(Remote::new(url, key, config.timeout)?))
            }
        }
    }

    /// A legacy Nearby Search object with status `OK` or `ZERO_RESULTS`, or
    /// why there is none; for `herd::places::answer_json` to shape.
    pub async fn nearby(&self, query: &NearbyQuery) -> Result<Value, PlacesError> {
        match self {
            Provider::Offline(offline) => offline.nearby(query),
            Provider::Google(remote) => remote.legacy(query).await,
            Provider::GoogleNew(remote) => remote.new_api(query).await,
        }
    }
}

impl Remote {
    fn new(url: String, key: String, timeout: Duration) -> Result<Remote, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .map_err(|_| ConfigError("cannot set up TLS for Places".to_owned()))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Remote {
            client,
            url,
            key: ApiKey(key),
            timeout,
        })
    }

    fn timeout_ms(&self) -> u128 {
        self.timeout.as_millis()
    }

    async fn legacy(&self, query: &NearbyQuery) -> Result<Value, PlacesError> {
        let url = google::request_url(&self.url, &self.key.0, query);
        let deadline = Instant::now() + self.timeout;
        let request = Request::get(url.as_str())
            .body(Full::new(Bytes::new()))
            .map_err(|_| google::failure(UNUSABLE_URL.to_owned()))?;
        let response = self
            .send(request, deadline)
            .await
            .map_err(google::failure)?;
        google::check_status(response.status().as_u16())?;
        let body = self
            .read_body(response, deadline)
            .await
            .map_err(google::failure)?;
        google::parse_answer(&body)
    }

    async fn new_api(&self, query: &NearbyQuery) -> Result<Value, PlacesError> {
        let body = google_new::request_body(query).map_err(google_new::fail)?;
        let deadline = Instant::now() + self.timeout;
        let request = Request::post(self.url.as_str())
            .header("Content-Type", "application/json")
            .header("X-Goog-Api-Key", self.key.0.as_str())
            .header("X-Goog-FieldMask", google_new::FIELD_MASK)
            .body(Full::new(Bytes::from(body)))
            .map_err(|_| google_new::fail(UNUSABLE_URL.to_owned()))?;
        let response = self
            .send(request, deadline)
            .await
            .map_err(google_new::fail)?;
        let status = response.status().as_u16();
        let body = self.read_body(response, deadline).await;
        google_new::interpret(status, body, &self.key.0)
    }

    /// Sends `request`; the response head, or a client-safe message.
    async fn send(
        &self,
        request: Request<Full<Bytes>>,
        deadline: Instant,
    ) -> Result<hyper::Response<hyper::body::Incoming>, String> {
        match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Err(_) => Err(self.too_slow()),
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(describe_request_error(&error)),
        }
    }

    /// The whole body, at most 4 MiB, or a client-safe message.
    async fn read_body(
        &self,
        response: hyper::Response<hyper::body::Incoming>,
        deadline: Instant,
    ) -> Result<Vec<u8>, String> {
        let limit = usize::try_from(herd::limits::PLACES_BODY_LIMIT).unwrap_or(usize::MAX);
        let body = Limited::new(response.into_body(), limit);
        match tokio::time::timeout_at(deadline, body.collect()).await {
            Err(_) => Err(self.too_slow()),
            Ok(Ok(collected)) => Ok(collected.to_bytes().to_vec()),
            Ok(Err(error)) => Err(describe_body_error(error.as_ref())),
        }
    }

    fn too_slow(&self) -> String {
        format!("Places did not answer within {} ms", self.timeout_ms())
    }
}

const UNUSABLE_URL: &str = "the configured Places URL is not usable";

/// Our words for a failure before the response head arrived.
fn describe_request_error(error: &hyper_util::client::legacy::Error) -> String {
    if error.is_connect() {
        return format!("Places could not be reached ({})", why_unreachable(error));
    }
    if let Some(hyper_error) = find::<hyper::Error>(error) {
        if hyper_error.is_incomplete_message() {
            return "Places closed the connection without answering".to_owned();
        }
        if hyper_error.is_parse() || hyper_error.is_parse_status() {
            return "Places answered with malformed HTTP".to_owned();
        }
    }
    if let Some(io_error) = find::<io::Error>(error)
        && io_error.kind() == io::ErrorKind::UnexpectedEof
    {
        return "Places closed the connection without answering".to_owned();
    }
    if format!("{error:?}").contains("InvalidUri")
        || format!("{error:?}").contains("UserUnsupportedScheme")
    {
        return UNUSABLE_URL.to_owned();
    }
    "the request to Places failed".to_owned()
}

/// Why a connection could not be made, in the blocking build's words.
fn why_unreachable(error: &(dyn StdError + 'static)) -> &'static str {
    let mut source = Some(error);
    while let Some(e) = source {
        // hyper-util's connector names a failed lookup so; the text holds
        // no URL, and is only compared here.
        if e.to_string() == "dns error" {
            return "host not found";
        }
        if e.is::<rustls::Error>() {
            return "TLS failure";
        }
        if let Some(io_error) = e.downcast_ref::<io::Error>() {
            use io::ErrorKind as K;
            match io_error.kind() {
                K::ConnectionRefused => return "connection refused",
                K::ConnectionReset => return "connection reset",
                K::ConnectionAborted => return "connection aborted",
                K::TimedOut => return "connection timed out",
                K::AddrNotAvailable => return "address not available",
                K::NetworkUnreachable => return "network unreachable",
                K::HostUnreachable => return "host unreachable",
                K::NetworkDown => return "network down",
                K::InvalidData => return "TLS failure",
                _ => {}
            }
        }
        source = e.source();
    }
    "connection failed"
}

/// Our words for a failure while reading the body.
fn describe_body_error(error: &(dyn StdError + Send + Sync + 'static)) -> String {
    if error.is::<http_body_util::LengthLimitError>() {
        return "Places answered with more than 4 MiB".to_owned();
    }
    if let Some(hyper_error) = error.downcast_ref::<hyper::Error>()
        && hyper_error.is_incomplete_message()
    {
        return "Places closed the connection mid-answer".to_owned();
    }
    "reading the answer from Places failed".to_owned()
}

/// The first error of type `T` in `error`'s source chain.
fn find<'a, T: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        source = e.source();
    }
    None
}
