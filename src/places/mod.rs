//! Places: the one interface WHATSAT uses to ask "what is near here?".
//!
//! Input comes from the WHATSAT command as a [`NearbyQuery`]; a provider
//! (`offline`, `google`, `google-new`) answers with a legacy Nearby Search
//! object or a [`PlacesError`]; [`answer_json`] shapes either into the
//! exact JSON text that follows the AT line in a WHATSAT answer (first
//! `bound` results, Google-style layout, no blank lines).
//!
//! Modules: `provider` (the query, the trait, the error), `offline` (the
//! shipped data set), `google` (Nearby Search, legacy), `google_new`
//! (Places API (New), mapped onto the legacy shape), `http` (the blocking
//! `ureq` agent, body reading and error words both Google providers share),
//! `json_format` (Google's legacy JSON layout), `answer` (the WHATSAT JSON).
//! Everything here but `http.rs` and the providers' blocking `nearby` is
//! shared with the tokio build.

pub mod answer;
pub mod google;
pub mod google_new;
mod http;
mod json_format;
mod offline;
pub mod provider;

use std::sync::Arc;

use crate::config::{ConfigError, PlacesConfig, Provider};

pub use answer::{
    AnswerSummary, answer_json, error_object, squeeze_newlines, summarized_answer_json,
};
pub use google::Google;
pub use google_new::{FIELD_MASK, GoogleNew, NEW_URL, to_legacy};
pub use json_format::to_google_json;
pub use offline::{Offline, OfflineIndex, Place, legacy_result};
pub use provider::{NearbyQuery, Places, PlacesError, PlacesHandle};

/// Builds the provider named by the config. `api_key` is the value of
/// `PLACES_API_KEY` (an empty value counts as missing); it is needed by the
/// Google providers only and is never logged.
pub fn from_config(
    config: &PlacesConfig,
    api_key: Option<String>,
) -> Result<PlacesHandle, ConfigError> {
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
pub fn required_key(api_key: Option<String>, provider: &str) -> Result<String, ConfigError> {
    let key = api_key.filter(|key| !key.is_empty()).ok_or_else(|| {
        ConfigError(format!(
            "[places] provider \"{provider}\" needs an API key in PLACES_API_KEY"
        ))
    })?;
    if provider == "google-new" && !google_new::usable_key(&key) {
        return Err(ConfigError(
            "[places] provider \"google-new\": PLACES_API_KEY holds characters \
             an HTTP header cannot carry"
                .to_owned(),
        ));
    }
    Ok(key)
}
