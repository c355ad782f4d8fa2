//! Places: the one interface WHATSAT uses to ask "what is near here?".
//!
//! Input comes from `cmd/whatsat.rs` as a [`NearbyQuery`]; a provider
//! (`offline`, `google`, `google-new`) answers with a legacy Nearby Search
//! object or a [`PlacesError`]; [`whatsat_json`] shapes either into the
//! exact JSON text that follows the AT line in a WHATSAT answer (first
//! `bound` results, Google-style layout, no blank lines).
//!
//! Modules: `offline` (the shipped data set), `google` (Nearby Search,
//! legacy), `google_new` (Places API (New), mapped onto the legacy shape),
//! `http` (the agent, body reading and error words both Google providers
//! share), `json_format` (Google's legacy JSON layout).

pub mod google;
pub mod google_new;
mod http;
mod json_format;
mod offline;

use std::sync::Arc;

use serde_json::{Map, Value};

pub use google::Google;
pub use google_new::{FIELD_MASK, GoogleNew, NEW_URL, to_legacy};
pub use http::BODY_LIMIT;
pub use json_format::to_google_json;
pub use offline::{Offline, OfflineIndex, Place, legacy_result};

/// One WHATSAT question, already validated by the protocol parser.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyQuery {
    /// Latitude in decimal degrees, within [-90, 90].
    pub lat: f64,
    /// Longitude in decimal degrees, within [-180, 180].
    pub lng: f64,
    /// Radius in metres as exact decimal text (`10` km -> `"10000"`,
    /// `1.2345` km -> `"1234.5"`): what goes on the wire to Google.
    pub radius_m_text: String,
    /// The same radius as a float, for the offline index.
    pub radius_m: f64,
    /// How many results the client wants, 1 to 20.
    pub bound: usize,
}

/// Why a provider could not answer. `status` is a legacy status word
/// (`UNKNOWN_ERROR`, `REQUEST_DENIED`, ...); `message` is safe to show a
/// client: it never holds the API key or the request URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacesError {
    pub status: String,
    pub message: String,
}

impl PlacesError {
    pub fn new(status: impl Into<String>, message: impl Into<String>) -> Self {
        PlacesError {
            status: status.into(),
            message: message.into(),
        }
    }
}

/// A source of nearby places. Implementations must be cheap to call from
/// many pool workers at once and must return within their own timeout.
pub trait Places: Send + Sync {
    /// A legacy Nearby Search response object (`html_attributions`,
    /// `results`, `status`, ... in the provider's key order) whose status is
    /// `OK` or `ZERO_RESULTS`, or the reason there is none.
    fn nearby(&self, query: &NearbyQuery) -> Result<Value, PlacesError>;
}

/// Shared handle to the configured provider.
pub type PlacesHandle = Arc<dyn Places>;

/// The JSON text of a WHATSAT answer: the provider's object with `results`
/// cut to `query.bound`, or an error object of the same shape; laid out as
/// Google lays out legacy answers; runs of newlines squeezed to one and
/// trailing newlines dropped, so the text never holds a blank line.
pub fn whatsat_json(places: &dyn Places, query: &NearbyQuery) -> String {
    answer_json(places.nearby(query), query.bound)
}

/// The JSON text of a WHATSAT answer for a provider's `answer` (see
/// [`whatsat_json`]); the tokio build calls this with its async providers'
/// answers.
pub fn answer_json(answer: Result<Value, PlacesError>, bound: usize) -> String {
    let object = match answer {
        Ok(object) => shape_success(object, bound),
        Err(error) => error_object(&error),
    };
    squeeze_newlines(&to_google_json(&object))
}

/// Keeps the first `bound` results of a provider's answer; an answer that is
/// not a legacy object with an OK/ZERO_RESULTS status becomes an error object.
fn shape_success(object: Value, bound: usize) -> Value {
    let Value::Object(mut map) = object else {
        return error_object(&PlacesError::new(
            "UNKNOWN_ERROR",
            "Places answered with JSON that is not an object",
        ));
    };
    match map.get("status").and_then(Value::as_str) {
        Some("OK") | Some("ZERO_RESULTS") => {}
        Some(other) => {
            let message = map
                .get("error_message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("Places answered {other}"));
            return error_object(&PlacesError::new(other, message));
        }
        None => {
            return error_object(&PlacesError::new(
                "UNKNOWN_ERROR",
                "Places answered without a status",
            ));
        }
    }
    match map.get_mut("results") {
        Some(Value::Array(results)) => results.truncate(bound),
        _ => {
            return error_object(&PlacesError::new(
                "UNKNOWN_ERROR",
                "Places answered without a results list",
            ));
        }
    }
    Value::Object(map)
}

/// A legacy-shaped error object, keys in Google's (alphabetical) order.
pub fn error_object(error: &PlacesError) -> Value {
    let mut map = Map::new();
    map.insert("error_message".into(), Value::String(error.message.clone()));
    map.insert("html_attributions".into(), Value::Array(Vec::new()));
    map.insert("results".into(), Value::Array(Vec::new()));
    map.insert("status".into(), Value::String(error.status.clone()));
    Value::Object(map)
}

/// Squeezes every run of two or more newlines to one and drops trailing
/// newlines (PROTOCOL §2), so that a WHATSAT answer ends at its first blank line.
pub fn squeeze_newlines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if ch == '\n' && out.ends_with('\n') {
            continue;
        }
        out.push(ch);
    }
    while out.ends_with('\n') {
        out.pop();
    }
    out
}

/// Builds the provider named by the config. `api_key` is the value of
/// `PLACES_API_KEY` (an empty value counts as missing); it is needed by the
/// Google providers only and is never logged.
pub fn from_config(
    config: &crate::config::PlacesConfig,
    api_key: Option<String>,
) -> Result<PlacesHandle, crate::config::ConfigError> {
    use crate::config::{ConfigError, Provider};
    match config.provider {
        Provider::Offline => {
            let offline = Offline::new()
                .map_err(|e| ConfigError(format!("offline Places data cannot be loaded: {e}")))?;
            Ok(Arc::new(offline))
        }
        Provider::Google => {
            let key = required_key(api_key, "google")?;
            let url = config.url.as_deref().unwrap_or(google::LEGACY_URL);
            Ok(Arc::new(Google::new(url, key, config.timeout)))
        }
        Provider::GoogleNew => {
            let key = required_key(api_key, "google-new")?;
            let url = config.url.as_deref().unwrap_or(NEW_URL);
            Ok(Arc::new(GoogleNew::new(url, key, config.timeout)))
        }
    }
}

/// The API key a Google provider needs: `PLACES_API_KEY`, set and not
/// empty, and for `google-new` one a header can carry; else a config error
/// naming the provider (never the key). Shared with the tokio build.
pub fn required_key(
    api_key: Option<String>,
    provider: &str,
) -> Result<String, crate::config::ConfigError> {
    let key = api_key.filter(|key| !key.is_empty()).ok_or_else(|| {
        crate::config::ConfigError(format!(
            "[places] provider \"{provider}\" needs an API key in PLACES_API_KEY"
        ))
    })?;
    if provider == "google-new" && !google_new::usable_key(&key) {
        return Err(crate::config::ConfigError(
            "[places] provider \"google-new\": PLACES_API_KEY holds characters \
             an HTTP header cannot carry"
                .to_owned(),
        ));
    }
    Ok(key)
}
