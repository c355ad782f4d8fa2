//! What every Places provider is: the question it is asked
//! ([`NearbyQuery`]), the trait it implements ([`Places`]) and the error
//! it may give ([`PlacesError`]).
//!
//! A leaf of `places/`: the providers (`offline.rs`, `google.rs`,
//! `google_new.rs`) and the answer shaping (`answer.rs`) all build on it.

use std::sync::Arc;

use serde_json::Value;

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
