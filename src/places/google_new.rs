//! The `google-new` Places provider: asks Places API (New) Nearby Search
//! (`POST .../v1/places:searchNearby`, docs/places.md) what is near a WHATSAT
//! client's location, and maps the answer onto the legacy Nearby Search
//! shape (docs/places.md, "How a Places API (New) answer becomes a legacy
//! answer") that WHATSAT answers with.
//!
//! Why it exists: Google closed the legacy Places API to new Cloud projects
//! in 2025; a key from a new project can only call Places API (New).
//!
//! Input: a [`NearbyQuery`] from the WHATSAT command, plus the endpoint URL, API
//! key and timeout from the herd's configuration. Output: a legacy object
//! `{"html_attributions": [], "results": [...], "status": "OK"}` (or
//! `"ZERO_RESULTS"`), built by the pure function [`to_legacy`]; or a
//! [`PlacesError`] whose message is safe to show a client.
//!
//! The request: a compact JSON body (one line; broken here)
//!
//! ```text
//! {"locationRestriction":{"circle":{"center":{"latitude":LAT,"longitude":LNG},
//! "radius":METRES}},"maxResultCount":BOUND}
//! ```
//!
//! (the radius is WHATSAT's exact decimal text in metres), the key in
//! `X-Goog-Api-Key` (never in the URL), and the field mask [`FIELD_MASK`]
//! in `X-Goog-FieldMask`.
//!
//! The mapping, one New place → one legacy result, keys in Google's legacy
//! (alphabetical) order. A field whose source is absent (or not of the
//! expected JSON type) is left out; numbers are copied as Google wrote them.
//!
//! | legacy field | from Places API (New) | fidelity |
//! |---|---|---|
//! | `business_status` | `businessStatus`, unless `BUSINESS_STATUS_UNSPECIFIED` | exact |
//! | `geometry.location.lat` / `.lng` | `location.latitude` / `.longitude` | exact |
//! | `geometry.viewport.northeast` | `viewport.high` (`latitude` → `lat`, ...) | exact |
//! | `geometry.viewport.southwest` | `viewport.low` | exact |
//! | `icon_background_color` | `iconBackgroundColor` | exact |
//! | `icon_mask_base_uri` | `iconMaskBaseUri` | exact |
//! | `name` | `displayName.text` (New's own `name` is `places/ID`, not a name) | exact |
//! | `place_id` | `id` | exact (same ID space) |
//! | `plus_code.compound_code` | `plusCode.compoundCode` | exact |
//! | `plus_code.global_code` | `plusCode.globalCode` | exact |
//! | `reference` | `id` | synthetic (legacy shows `reference == place_id`) |
//! | `scope` | always `"GOOGLE"` | synthetic |
//! | `types` | `types` (strings only) | approximate: New has more types |
//! | `vicinity` | `shortFormattedAddress` | approximate: alike, not identical |
//! | `icon`, `opening_hours`, `photos` | — | left out (see [`FIELD_MASK`]) |
//! | `price_level`, `rating`, `user_ratings_total` | — | left out (see [`FIELD_MASK`]) |
//!
//! Top level: `html_attributions` is always `[]`; `results` holds the places
//! in Google's order; `status` is `"OK"` with one place or more, else
//! `"ZERO_RESULTS"` (Google answers `{}` when nothing matches); there is no
//! `next_page_token` (New has no paging; WHATSAT's bound ≤ 20 fits one call).
//!
//! A latitude or longitude of exactly 0 may be missing from Google's
//! answer: ProtoJSON leaves out fields that hold their default value. So
//! inside a `location`, `low` or `high` object a missing coordinate is 0.
//!
//! Errors: Places API (New) answers errors with an HTTP 4xx/5xx status and
//! the Google error envelope `{"error":{"code","message","status",...}}`.
//! The HTTP status becomes a legacy status (400 → `INVALID_REQUEST`, but
//! `REQUEST_DENIED` when the envelope's `ErrorInfo` reason is an `API_KEY_*`
//! one, as legacy answers an invalid key; 401/403 → `REQUEST_DENIED`; 429 →
//! `OVER_QUERY_LIMIT`; anything else → `UNKNOWN_ERROR`) and the message is
//! `Places API (New) answered 403 PERMISSION_DENIED: <Google's message>`,
//! with our key cut out should Google ever echo it, control characters made
//! spaces and the length capped. An error without the envelope (a proxy's
//! page, say) is `UNKNOWN_ERROR` `Places API (New) answered HTTP N`.
//! Transport failures (timeout, no connection, a dropped answer, a body
//! over 4 MiB or not JSON) are `UNKNOWN_ERROR` in the same words as the
//! legacy provider's (`http.rs`).

use std::fmt;
use std::time::Duration;

use serde_json::{Map, Number, Value};

use super::http::{self, ApiKey, Phase, describe, safe_word};
use super::provider::{NearbyQuery, Places, PlacesError};
use crate::limits::PLACES_MESSAGE_LIMIT;

/// Google's Places API (New) Nearby Search endpoint.
pub const NEW_URL: &str = "https://places.googleapis.com/v1/places:searchNearby";

/// The fields asked for: exactly those [`to_legacy`] maps, all of them
/// "Nearby Search Pro" fields (docs/places.md, "What Google says"). A request is billed at the
/// dearest SKU among its mask's fields, so the mask stays at Pro:
/// `rating`, `userRatingCount`, `priceLevel` and `currentOpeningHours`
/// (legacy `rating`, `user_ratings_total`, `price_level`,
/// `opening_hours.open_now`) are Enterprise fields and would make every
/// WHATSAT dearer; `photos` is left out because a New photo has no legacy
/// `photo_reference` (its `name` works only with Place Photos (New), a
/// further billed call), so a legacy client could not use what we gave it.
pub const FIELD_MASK: &str = "places.id,places.displayName,places.location,places.viewport,\
                              places.types,places.businessStatus,places.shortFormattedAddress,\
                              places.plusCode,places.iconMaskBaseUri,places.iconBackgroundColor";

/// The Places API (New) provider. One shared HTTP agent (connection pool)
/// serves every call, from any number of threads.
pub struct GoogleNew {
    agent: ureq::Agent,
    url: String,
    key: ApiKey,
    timeout: Duration,
}

impl fmt::Debug for GoogleNew {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GoogleNew")
            .field("url", &self.url)
            .field("key", &self.key)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl GoogleNew {
    /// A provider asking the endpoint at `url` (normally [`NEW_URL`]; an
    /// empty `url` means [`NEW_URL`]) with API key `key`; every call, from
    /// DNS lookup to the last body byte, ends within `timeout`.
    pub fn new(url: &str, key: String, timeout: Duration) -> GoogleNew {
        let url = if url.is_empty() { NEW_URL } else { url };
        GoogleNew {
            agent: http::agent(timeout),
            url: url.to_owned(),
            key: ApiKey(key),
            timeout,
        }
    }

    fn timeout_ms(&self) -> u128 {
        self.timeout.as_millis()
    }

    /// Sends the request; returns the HTTP status and body, or a failure.
    fn exchange(&self, body: &str) -> Result<(u16, Result<Vec<u8>, String>), PlacesError> {
        let sent = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Goog-Api-Key", self.key.0.as_str())
            .header("X-Goog-FieldMask", FIELD_MASK)
            .send(body);
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return Err(fail(describe(&error, Phase::Connect, self.timeout_ms()))),
        };
        let status = response.status().as_u16();
        Ok((status, http::read_body(&mut response, self.timeout_ms())))
    }
}

impl Places for GoogleNew {
    fn nearby(&self, query: &NearbyQuery) -> Result<Value, PlacesError> {
        if !usable_key(&self.key.0) {
            return Err(fail(
                "the API key holds characters an HTTP header cannot carry".to_owned(),
            ));
        }
        let body = request_body(query).map_err(fail)?;
        let (status, body) = self.exchange(&body)?;
        interpret(status, body, &self.key.0)
    }
}

/// The legacy-shaped answer for HTTP `status` and its body (or why the body
/// could not be read): Google's error envelope mapped for a status other
/// than 200, the `places` mapped for 200. Shared with the tokio build.
pub fn interpret(
    status: u16,
    body: Result<Vec<u8>, String>,
    key: &str,
) -> Result<Value, PlacesError> {
    if status != 200 {
        // An error body that cannot be read still leaves the status.
        let body = body.unwrap_or_default();
        let error = error_from_answer(status, &body, key);
        log::warn!("google-new places: {}", error.message);
        return Err(error);
    }
    let body = body.map_err(fail)?;
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| fail("Places answered with malformed JSON".to_owned()))?;
    to_legacy(&value).inspect_err(|error| log::warn!("google-new places: {}", error.message))
}

/// Whether `key` can go into the `X-Goog-Api-Key` header as it is: visible
/// ASCII only (Google's keys are letters, digits, `-` and `_`), not empty.
pub fn usable_key(key: &str) -> bool {
    !key.is_empty() && key.bytes().all(|byte| byte.is_ascii_graphic())
}

/// Logs a failure and makes it an `UNKNOWN_ERROR`; `message` is one of
/// ours, safe to show.
pub fn fail(message: String) -> PlacesError {
    log::warn!("google-new places: {message}");
    PlacesError::new("UNKNOWN_ERROR", message)
}

/// The JSON request body, compact, members in the order shown in the
/// module documentation. Coordinates are written as Rust writes an `f64`
/// (shortest exact form, never an exponent); the radius is the query's
/// exact metres text when that is a JSON number.
pub fn request_body(query: &NearbyQuery) -> Result<String, String> {
    let bad = || "the WHATSAT location or radius is not a number".to_owned();
    let lat = finite_text(query.lat).ok_or_else(bad)?;
    let lng = finite_text(query.lng).ok_or_else(bad)?;
    let radius = if query.radius_m_text.parse::<Number>().is_ok() {
        query.radius_m_text.clone()
    } else {
        finite_text(query.radius_m).ok_or_else(bad)?
    };
    let bound = query.bound.clamp(1, 20);
    Ok(format!(
        "{{\"locationRestriction\":{{\"circle\":{{\"center\":{{\"latitude\":{lat},\
         \"longitude\":{lng}}},\"radius\":{radius}}}}},\"maxResultCount\":{bound}}}"
    ))
}

/// `x` as JSON number text, if it is finite.
fn finite_text(x: f64) -> Option<String> {
    x.is_finite().then(|| x.to_string())
}

/// The error for an HTTP status other than 200 and its (possibly empty)
/// body: Google's envelope mapped to a legacy status and message, or our
/// own words when there is no envelope. `key` never appears in the message.
fn error_from_answer(status: u16, body: &[u8], key: &str) -> PlacesError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let Some(envelope) = parsed.as_ref().and_then(Envelope::from_body) else {
        return PlacesError::new(
            "UNKNOWN_ERROR",
            format!("Places API (New) answered HTTP {status}"),
        );
    };
    // Google's words lose the key before they are filtered or cut: a key
    // cut at the length limit, or stripped of its `-` by `safe_word`, would
    // no longer match and would be shown in part.
    let mut message = format!("Places API (New) answered {status}");
    let word = envelope
        .status
        .map(|status| safe_word(&redact(status, key)));
    if let Some(word) = word.filter(|w| !w.is_empty()) {
        message.push(' ');
        message.push_str(&word);
    }
    if let Some(text) = envelope.message {
        message.push_str(": ");
        message.push_str(&one_line(&redact(text, key), PLACES_MESSAGE_LIMIT));
    }
    PlacesError::new(
        legacy_status(status, envelope.reason),
        redact(&message, key),
    )
}

/// The parts of Google's error envelope that the mapping reads.
struct Envelope<'a> {
    status: Option<&'a str>,
    message: Option<&'a str>,
    /// The `reason` of the first `google.rpc.ErrorInfo` detail.
    reason: Option<&'a str>,
}

impl<'a> Envelope<'a> {
    /// `{"error": {...}}` with a string `status` or `message`; else `None`.
    fn from_body(body: &'a Value) -> Option<Envelope<'a>> {
        let error = body.get("error")?.as_object()?;
        let status = error.get("status").and_then(Value::as_str);
        let message = error.get("message").and_then(Value::as_str);
        if status.is_none() && message.is_none() {
            return None;
        }
        let reason = error
            .get("details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|detail| {
                detail
                    .get("@type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("google.rpc.ErrorInfo"))
            })
            .find_map(|detail| detail.get("reason").and_then(Value::as_str));
        Some(Envelope {
            status,
            message,
            reason,
        })
    }
}

/// The legacy status word for a Places API (New) HTTP error status.
fn legacy_status(http_status: u16, reason: Option<&str>) -> &'static str {
    match http_status {
        400 if reason.is_some_and(|r| r.starts_with("API_KEY_")) => "REQUEST_DENIED",
        400 => "INVALID_REQUEST",
        401 | 403 => "REQUEST_DENIED",
        429 => "OVER_QUERY_LIMIT",
        _ => "UNKNOWN_ERROR",
    }
}

/// `text` on one line (control characters become spaces), at most `limit`
/// characters (cut ones end with `...`).
fn one_line(text: &str, limit: usize) -> String {
    let mut out: String = text
        .chars()
        .take(limit)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(limit).is_some() {
        out.push_str("...");
    }
    out
}

/// `text` with every occurrence of `key` replaced by `<redacted>`.
fn redact(text: &str, key: &str) -> String {
    if key.is_empty() {
        return text.to_owned();
    }
    text.replace(key, "<redacted>")
}

/// Maps a Places API (New) `searchNearby` answer onto a legacy Nearby
/// Search answer (see the module documentation for the table). An answer
/// that is not an object, whose `places` is not a list, or whose places are
/// not objects is an `UNKNOWN_ERROR`.
pub fn to_legacy(new_answer: &Value) -> Result<Value, PlacesError> {
    let Value::Object(answer) = new_answer else {
        return Err(malformed("JSON that is not an object"));
    };
    let places: &[Value] = match answer.get("places") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(places)) => places,
        Some(_) => return Err(malformed("\"places\" that is not a list")),
    };
    let results = places
        .iter()
        .map(legacy_result)
        .collect::<Result<Vec<Value>, PlacesError>>()?;
    let status = if results.is_empty() {
        "ZERO_RESULTS"
    } else {
        "OK"
    };
    let mut legacy = Map::new();
    legacy.insert("html_attributions".into(), Value::Array(Vec::new()));
    legacy.insert("results".into(), Value::Array(results));
    legacy.insert("status".into(), Value::String(status.into()));
    Ok(Value::Object(legacy))
}

fn malformed(what: &str) -> PlacesError {
    PlacesError::new(
        "UNKNOWN_ERROR",
        format!("Places API (New) answered with {what}"),
    )
}

/// One legacy result from one New place, keys in alphabetical order.
fn legacy_result(place: &Value) -> Result<Value, PlacesError> {
    let Value::Object(place) = place else {
        return Err(malformed("a place that is not an object"));
    };
    let text = |key: &str| place.get(key).and_then(Value::as_str);
    let id = text("id");
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            out.insert(key.into(), value);
        }
    };
    let business_status = text("businessStatus").filter(|s| *s != "BUSINESS_STATUS_UNSPECIFIED");
    put("business_status", business_status.map(string));
    put("geometry", geometry(place));
    put(
        "icon_background_color",
        text("iconBackgroundColor").map(string),
    );
    put("icon_mask_base_uri", text("iconMaskBaseUri").map(string));
    put("name", display_name(place).map(string));
    put("place_id", id.map(string));
    put("plus_code", plus_code(place.get("plusCode")));
    put("reference", id.map(string));
    put("scope", Some(string("GOOGLE")));
    put("types", types(place.get("types")));
    put("vicinity", text("shortFormattedAddress").map(string));
    Ok(Value::Object(out))
}

fn string(text: &str) -> Value {
    Value::String(text.to_owned())
}

/// `displayName.text`.
fn display_name(place: &Map<String, Value>) -> Option<&str> {
    place.get("displayName")?.get("text")?.as_str()
}

/// `{location, viewport}` from `location` and `viewport`; `None` when
/// neither is there.
fn geometry(place: &Map<String, Value>) -> Option<Value> {
    let mut geometry = Map::new();
    if let Some(location) = lat_lng(place.get("location")) {
        geometry.insert("location".into(), location);
    }
    if let Some(viewport) = viewport(place.get("viewport")) {
        geometry.insert("viewport".into(), viewport);
    }
    (!geometry.is_empty()).then_some(Value::Object(geometry))
}

/// `{northeast, southwest}` from a New viewport's `high` and `low`; both
/// corners must be there.
fn viewport(viewport: Option<&Value>) -> Option<Value> {
    let viewport = viewport?;
    let northeast = lat_lng(viewport.get("high"))?;
    let southwest = lat_lng(viewport.get("low"))?;
    let mut out = Map::new();
    out.insert("northeast".into(), northeast);
    out.insert("southwest".into(), southwest);
    Some(Value::Object(out))
}

/// `{lat, lng}` from a `google.type.LatLng` object: numbers copied as they
/// are, a missing one 0 (ProtoJSON leaves out a 0); `None` if `point` is
/// not an object or holds a coordinate that is not a number.
fn lat_lng(point: Option<&Value>) -> Option<Value> {
    let point = point?.as_object()?;
    let coordinate = |key: &str| match point.get(key) {
        None => Some(Value::Number(Number::from(0))),
        Some(number @ Value::Number(_)) => Some(number.clone()),
        Some(_) => None,
    };
    let mut out = Map::new();
    out.insert("lat".into(), coordinate("latitude")?);
    out.insert("lng".into(), coordinate("longitude")?);
    Some(Value::Object(out))
}

/// `{compound_code, global_code}` from `plusCode`, each only if there;
/// `None` when neither is.
fn plus_code(plus_code: Option<&Value>) -> Option<Value> {
    let plus_code = plus_code?;
    let mut out = Map::new();
    for (new_key, legacy_key) in [
        ("compoundCode", "compound_code"),
        ("globalCode", "global_code"),
    ] {
        if let Some(code) = plus_code.get(new_key).and_then(Value::as_str) {
            out.insert(legacy_key.into(), string(code));
        }
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The string elements of a `types` list, in order.
fn types(types: Option<&Value>) -> Option<Value> {
    let types = types?.as_array()?;
    let strings = types.iter().filter(|t| t.is_string()).cloned().collect();
    Some(Value::Array(strings))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;

    use super::*;

    /// A realistic key shape (39 characters); tests check it never leaks.
    const KEY: &str = "AIzaSyD-TEST_KEY_0123456789abcdefghijklm";

    fn query(lat: f64, lng: f64, radius: &str, bound: usize) -> NearbyQuery {
        NearbyQuery {
            lat,
            lng,
            radius_m_text: radius.to_owned(),
            radius_m: radius.parse().unwrap(),
            bound,
        }
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn compact(value: &Value) -> String {
        serde_json::to_string(value).unwrap()
    }

    // ---- to_legacy -------------------------------------------------------

    const FULL_PLACE: &str = r##"{"places": [{
        "name": "places/ChIJN1t_tDeuEmsRUsoyG83frY4",
        "id": "ChIJN1t_tDeuEmsRUsoyG83frY4",
        "types": ["bar", "restaurant", "food", "point_of_interest", "establishment"],
        "shortFormattedAddress": "48 Pirrama Rd, Pyrmont",
        "plusCode": {"globalCode": "4RRH46J3+QC", "compoundCode": "46J3+QC Pyrmont NSW, Australia"},
        "location": {"latitude": -33.866651, "longitude": 151.19582699999999},
        "viewport": {
            "low": {"latitude": -33.8679999802915, "longitude": 151.1944780197085},
            "high": {"latitude": -33.86530201970850, "longitude": 151.1971759802915}
        },
        "businessStatus": "OPERATIONAL",
        "iconMaskBaseUri": "https://maps.gstatic.com/mapfiles/place_api/icons/v2/bar_pinlet",
        "iconBackgroundColor": "#FF9E67",
        "displayName": {"text": "Pirrama <Bar> & \"Grill\"", "languageCode": "en"},
        "rating": 4.5
    }]}"##;

    #[test]
    fn a_full_place_maps_field_by_field() {
        let legacy = to_legacy(&json(FULL_PLACE)).unwrap();
        let expected = concat!(
            r#"{"html_attributions":[],"results":[{"#,
            r#""business_status":"OPERATIONAL","#,
            r#""geometry":{"location":{"lat":-33.866651,"lng":151.19582699999999},"#,
            r#""viewport":{"northeast":{"lat":-33.86530201970850,"lng":151.1971759802915},"#,
            r#""southwest":{"lat":-33.8679999802915,"lng":151.1944780197085}}},"#,
            r##""icon_background_color":"#FF9E67","##,
            r#""icon_mask_base_uri":"#,
            r#""https://maps.gstatic.com/mapfiles/place_api/icons/v2/bar_pinlet","#,
            r#""name":"Pirrama <Bar> & \"Grill\"","#,
            r#""place_id":"ChIJN1t_tDeuEmsRUsoyG83frY4","#,
            r#""plus_code":{"compound_code":"46J3+QC Pyrmont NSW, Australia","#,
            r#""global_code":"4RRH46J3+QC"},"#,
            r#""reference":"ChIJN1t_tDeuEmsRUsoyG83frY4","#,
            r#""scope":"GOOGLE","#,
            r#""types":["bar","restaurant","food","point_of_interest","establishment"],"#,
            r#""vicinity":"48 Pirrama Rd, Pyrmont"}],"#,
            r#""status":"OK"}"#
        );
        assert_eq!(compact(&legacy), expected);
    }

    #[test]
    fn a_minimal_place_keeps_only_what_is_there() {
        let new = json(
            r#"{"places": [{"id": "X1", "displayName": {"text": "Spot"},
                "location": {"latitude": 1e-7, "longitude": -0.0}}]}"#,
        );
        assert_eq!(
            compact(&to_legacy(&new).unwrap()),
            concat!(
                r#"{"html_attributions":[],"results":[{"#,
                r#""geometry":{"location":{"lat":1e-7,"lng":-0.0}},"#,
                r#""name":"Spot","place_id":"X1","reference":"X1","scope":"GOOGLE"}],"#,
                r#""status":"OK"}"#
            )
        );
    }

    #[test]
    fn unspecified_status_odd_types_and_zero_coordinates() {
        let new = json(
            r#"{"places": [{"businessStatus": "BUSINESS_STATUS_UNSPECIFIED",
                "location": {"longitude": 9.5},
                "viewport": {"low": {"latitude": 1, "longitude": 2}},
                "displayName": "not an object", "id": 7,
                "plusCode": {"globalCode": "6FG22222+22"},
                "types": ["cafe", 3, null, "food"]}]}"#,
        );
        assert_eq!(
            compact(&to_legacy(&new).unwrap()),
            concat!(
                r#"{"html_attributions":[],"results":[{"#,
                r#""geometry":{"location":{"lat":0,"lng":9.5}},"#,
                r#""plus_code":{"global_code":"6FG22222+22"},"#,
                r#""scope":"GOOGLE","types":["cafe","food"]}],"status":"OK"}"#
            )
        );
    }

    #[test]
    fn nothing_found_is_zero_results() {
        let zero = r#"{"html_attributions":[],"results":[],"status":"ZERO_RESULTS"}"#;
        for new in [r#"{}"#, r#"{"places": []}"#, r#"{"places": null}"#] {
            assert_eq!(compact(&to_legacy(&json(new)).unwrap()), zero, "{new}");
        }
    }

    #[test]
    fn answers_of_the_wrong_shape_are_unknown_errors() {
        let cases = [
            (
                "[]",
                "Places API (New) answered with JSON that is not an object",
            ),
            (
                "\"x\"",
                "Places API (New) answered with JSON that is not an object",
            ),
            (
                r#"{"places": {"id": "X"}}"#,
                "Places API (New) answered with \"places\" that is not a list",
            ),
            (
                r#"{"places": [{"id": "X"}, 3]}"#,
                "Places API (New) answered with a place that is not an object",
            ),
        ];
        for (new, message) in cases {
            assert_eq!(
                to_legacy(&json(new)),
                Err(PlacesError::new("UNKNOWN_ERROR", message)),
                "{new}"
            );
        }
    }

    // ---- error mapping ---------------------------------------------------

    fn envelope(code: u16, status: &str, message: &str, reason: &str) -> String {
        serde_json::json!({"error": {
            "code": code, "message": message, "status": status,
            "details": [
                {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                 "reason": reason, "domain": "googleapis.com",
                 "metadata": {"service": "places.googleapis.com"}}
            ]
        }})
        .to_string()
    }

    #[test]
    fn error_envelopes_map_to_legacy_statuses() {
        let cases = [
            (
                400,
                "INVALID_ARGUMENT",
                "Unsupported types: attraction.",
                "",
                "INVALID_REQUEST",
            ),
            (
                400,
                "INVALID_ARGUMENT",
                "API key not valid. Please pass a valid API key.",
                "API_KEY_INVALID",
                "REQUEST_DENIED",
            ),
            (
                401,
                "UNAUTHENTICATED",
                "No credentials.",
                "",
                "REQUEST_DENIED",
            ),
            (
                403,
                "PERMISSION_DENIED",
                "Places API (New) has not been used in project 1 before or it is disabled.",
                "SERVICE_DISABLED",
                "REQUEST_DENIED",
            ),
            (
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded.",
                "RATE_LIMIT_EXCEEDED",
                "OVER_QUERY_LIMIT",
            ),
            (500, "INTERNAL", "Internal error.", "", "UNKNOWN_ERROR"),
            (
                503,
                "UNAVAILABLE",
                "The service is unavailable.",
                "",
                "UNKNOWN_ERROR",
            ),
            (404, "NOT_FOUND", "Not found.", "", "UNKNOWN_ERROR"),
        ];
        for (code, status, message, reason, legacy) in cases {
            let body = envelope(code, status, message, reason);
            assert_eq!(
                error_from_answer(code, body.as_bytes(), KEY),
                PlacesError::new(
                    legacy,
                    format!("Places API (New) answered {code} {status}: {message}")
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn an_error_without_the_envelope_names_the_http_status() {
        for body in [
            "<html>Bad Gateway</html>",
            "",
            "{}",
            r#"{"error": "flat"}"#,
            r#"{"error": {"code": 500}}"#,
        ] {
            assert_eq!(
                error_from_answer(502, body.as_bytes(), KEY),
                PlacesError::new("UNKNOWN_ERROR", "Places API (New) answered HTTP 502"),
                "{body}"
            );
        }
        assert_eq!(
            error_from_answer(403, b"Forbidden", KEY).status,
            "UNKNOWN_ERROR"
        );
    }

    #[test]
    fn partial_envelopes_and_odd_messages() {
        let no_status = r#"{"error": {"message": "Bad."}}"#;
        assert_eq!(
            error_from_answer(400, no_status.as_bytes(), KEY).message,
            "Places API (New) answered 400: Bad."
        );
        let no_message = r#"{"error": {"status": "PERMISSION_DENIED"}}"#;
        assert_eq!(
            error_from_answer(403, no_message.as_bytes(), KEY).message,
            "Places API (New) answered 403 PERMISSION_DENIED"
        );
        let odd = r#"{"error": {"status": "A\nB C", "message": "line 1\nline 2\u0000"}}"#;
        assert_eq!(
            error_from_answer(400, odd.as_bytes(), KEY).message,
            "Places API (New) answered 400 ABC: line 1 line 2 "
        );
        let long = envelope(400, "INVALID_ARGUMENT", &"x".repeat(5000), "");
        let message = error_from_answer(400, long.as_bytes(), KEY).message;
        assert!(message.ends_with(&format!("{}...", "x".repeat(10))));
        assert!(
            message.len() < PLACES_MESSAGE_LIMIT + 100,
            "{}",
            message.len()
        );
    }

    #[test]
    fn google_echoing_the_key_is_redacted() {
        let body = envelope(
            400,
            "INVALID_ARGUMENT",
            &format!("API key {KEY} not valid; key={KEY}."),
            "API_KEY_INVALID",
        );
        let error = error_from_answer(400, body.as_bytes(), KEY);
        assert_eq!(
            error.message,
            "Places API (New) answered 400 INVALID_ARGUMENT: \
             API key <redacted> not valid; key=<redacted>."
        );
        let status = serde_json::json!({"error": {"status": KEY}}).to_string();
        assert!(
            !error_from_answer(403, status.as_bytes(), KEY)
                .message
                .contains(KEY)
        );
    }

    /// Caught by the `places_answer` fuzz harness (its reproducer is kept in
    /// `tests/fuzz/regressions/`): the key was redacted only
    /// after the message was cut to its limit and the status filtered, so a
    /// key at the cut, or in the status word, was shown in part.
    #[test]
    fn a_key_cut_by_the_limit_or_filtered_is_still_redacted() {
        let at_the_cut = format!(
            "{}{KEY} is not valid",
            "x".repeat(PLACES_MESSAGE_LIMIT - 10)
        );
        let body = envelope(403, "PERMISSION_DENIED", &at_the_cut, "");
        let message = error_from_answer(403, body.as_bytes(), KEY).message;
        assert!(!message.contains(&KEY[..10]), "{message}");
        assert!(
            message.contains("<redacted>") || message.ends_with("..."),
            "{message}"
        );
        let status = serde_json::json!({"error": {"status": KEY}}).to_string();
        let message = error_from_answer(403, status.as_bytes(), KEY).message;
        assert!(!message.contains(&KEY[..7]), "{message}");
    }

    // ---- the request and the exchange, against a local listener ----------

    /// An HTTP/1.1 answer with a body, closing the connection.
    fn answer(status: u16, body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json; charset=UTF-8\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    /// Reads one request (head and `Content-Length` body) from `stream`.
    fn read_request(stream: &mut TcpStream) -> Vec<u8> {
        let mut request = Vec::new();
        let mut buffer = [0_u8; 4096];
        loop {
            let head_end = request.windows(4).position(|w| w == b"\r\n\r\n");
            if let Some(end) = head_end {
                let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if request.len() >= end + 4 + length {
                    return request;
                }
            }
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return request,
                Ok(n) => request.extend_from_slice(&buffer[..n]),
            }
        }
    }

    /// A listener that takes one connection, reads one request, hands it
    /// to the test and writes `reply` (then holds the connection for
    /// `hold` before closing it). Returns the URL and the request.
    fn one_shot(reply: Vec<u8>, hold: Duration) -> (String, mpsc::Receiver<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/v1/places:searchNearby",
            listener.local_addr().unwrap()
        );
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let request = read_request(&mut stream);
                let _ = sender.send(request);
                let _ = stream.write_all(&reply);
                thread::sleep(hold);
            }
        });
        (url, receiver)
    }

    fn provider(url: &str, timeout: Duration) -> GoogleNew {
        GoogleNew::new(url, KEY.to_owned(), timeout)
    }

    fn ask(reply: Vec<u8>, hold: Duration, timeout: Duration) -> Result<Value, PlacesError> {
        let (url, _request) = one_shot(reply, hold);
        provider(&url, timeout).nearby(&query(34.06893, -118.445127, "10000", 5))
    }

    fn ask_error(reply: Vec<u8>) -> PlacesError {
        let error = ask(reply, Duration::ZERO, Duration::from_secs(5)).unwrap_err();
        assert!(!error.message.contains(KEY), "{}", error.message);
        error
    }

    #[test]
    fn the_request_is_a_post_with_body_key_and_field_mask() {
        let (url, request) = one_shot(answer(200, "{}"), Duration::ZERO);
        let result = provider(&url, Duration::from_secs(5)).nearby(&query(
            34.06893,
            -118.445127,
            "1234.5",
            7,
        ));
        assert_eq!(
            compact(&result.unwrap()),
            r#"{"html_attributions":[],"results":[],"status":"ZERO_RESULTS"}"#
        );
        let request = String::from_utf8(request.recv().unwrap()).unwrap();
        let (head, body) = request.split_once("\r\n\r\n").unwrap();
        assert_eq!(
            body,
            "{\"locationRestriction\":{\"circle\":{\"center\":{\"latitude\":34.06893,\
             \"longitude\":-118.445127},\"radius\":1234.5}},\"maxResultCount\":7}"
        );
        let mut lines = head.lines();
        assert_eq!(lines.next(), Some("POST /v1/places:searchNearby HTTP/1.1"));
        let headers: Vec<(String, String)> = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        let values = |name: &str| -> Vec<&str> {
            headers
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(values("content-type"), ["application/json"]);
        assert_eq!(values("x-goog-api-key"), [KEY]);
        assert_eq!(values("x-goog-fieldmask"), [FIELD_MASK]);
        assert_eq!(values("content-length"), [body.len().to_string().as_str()]);
        assert!(!head.lines().next().unwrap_or("").contains(KEY));
    }

    #[test]
    fn the_field_mask_names_exactly_the_mapped_fields() {
        let fields: Vec<&str> = FIELD_MASK.split(',').collect();
        assert_eq!(
            fields,
            [
                "places.id",
                "places.displayName",
                "places.location",
                "places.viewport",
                "places.types",
                "places.businessStatus",
                "places.shortFormattedAddress",
                "places.plusCode",
                "places.iconMaskBaseUri",
                "places.iconBackgroundColor",
            ]
        );
    }

    #[test]
    fn request_numbers_are_exact_and_never_use_an_exponent() {
        let body = |q: NearbyQuery| request_body(&q).unwrap();
        assert_eq!(
            body(query(1e-7, -180.0, "50000", 20)),
            "{\"locationRestriction\":{\"circle\":{\"center\":{\"latitude\":0.0000001,\
             \"longitude\":-180},\"radius\":50000}},\"maxResultCount\":20}"
        );
        let mut odd = query(90.0, 179.99999999999997, "0.5", 1);
        odd.radius_m_text = "not a number".to_owned();
        assert!(body(odd).contains("\"longitude\":179.99999999999997},\"radius\":0.5}"));
        assert!(request_body(&query(f64::NAN, 0.0, "1", 1)).is_err());
    }

    #[test]
    fn a_full_answer_comes_back_mapped() {
        let result = ask(
            answer(200, FULL_PLACE),
            Duration::ZERO,
            Duration::from_secs(5),
        );
        assert_eq!(result, to_legacy(&json(FULL_PLACE)));
    }

    #[test]
    fn http_errors_over_the_wire() {
        let body = envelope(
            403,
            "PERMISSION_DENIED",
            "Requests to this API places.googleapis.com method \
             google.maps.places.v1.Places.SearchNearby are blocked.",
            "API_KEY_SERVICE_BLOCKED",
        );
        assert_eq!(
            ask_error(answer(403, &body)),
            PlacesError::new(
                "REQUEST_DENIED",
                "Places API (New) answered 403 PERMISSION_DENIED: Requests to this API \
                 places.googleapis.com method google.maps.places.v1.Places.SearchNearby \
                 are blocked."
            )
        );
        let quota = envelope(429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "");
        assert_eq!(ask_error(answer(429, &quota)).status, "OVER_QUERY_LIMIT");
        assert_eq!(
            ask_error(answer(502, "<html>Bad Gateway</html>")),
            PlacesError::new("UNKNOWN_ERROR", "Places API (New) answered HTTP 502")
        );
        assert_eq!(
            ask_error(answer(302, "")).message,
            "Places API (New) answered HTTP 302"
        );
    }

    #[test]
    fn transport_failures_are_unknown_errors_in_our_words() {
        let message = |reply: Vec<u8>| ask_error(reply).message;
        assert_eq!(
            message(answer(200, "{\"places\": [")),
            "Places answered with malformed JSON"
        );
        assert_eq!(
            message(answer(200, "[1]")),
            "Places API (New) answered with JSON that is not an object"
        );
        let cut = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"places\"".to_vec();
        assert_eq!(message(cut), "Places closed the connection mid-answer");
        assert_eq!(
            message(Vec::new()),
            "Places closed the connection without answering"
        );
        let mut huge = b"HTTP/1.1 200 OK\r\nContent-Length: 4194305\r\n\r\n".to_vec();
        huge.resize(huge.len() + 4 * 1024 * 1024 + 1, b' ');
        assert_eq!(message(huge), "Places answered with more than 4 MiB");
    }

    #[test]
    fn a_silent_server_times_out() {
        let error = ask(
            Vec::new(),
            Duration::from_secs(3),
            Duration::from_millis(200),
        )
        .unwrap_err();
        assert_eq!(
            error,
            PlacesError::new("UNKNOWN_ERROR", "Places did not answer within 200 ms")
        );
    }

    #[test]
    fn a_refused_connection_is_unreachable() {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let url = format!("http://127.0.0.1:{port}/v1/places:searchNearby");
        let error = provider(&url, Duration::from_secs(5))
            .nearby(&query(1.0, 2.0, "3", 1))
            .unwrap_err();
        assert_eq!(
            error,
            PlacesError::new(
                "UNKNOWN_ERROR",
                "Places could not be reached (connection refused)"
            )
        );
    }

    #[test]
    fn a_key_that_cannot_be_a_header_is_refused_before_sending() {
        for key in ["", "has space", "new\nline", "é"] {
            assert!(!usable_key(key), "{key:?}");
            let google = GoogleNew::new(
                "http://127.0.0.1:1/p",
                key.to_owned(),
                Duration::from_secs(1),
            );
            let error = google.nearby(&query(1.0, 2.0, "3", 1)).unwrap_err();
            assert_eq!(
                error.message,
                "the API key holds characters an HTTP header cannot carry"
            );
        }
        assert!(usable_key(KEY));
    }

    #[test]
    fn unusable_url_is_reported_without_the_url() {
        for url in ["ftp://h/p", "not a url", "http://"] {
            let error = provider(url, Duration::from_secs(5))
                .nearby(&query(1.0, 2.0, "3", 1))
                .unwrap_err();
            assert_eq!(
                error,
                PlacesError::new("UNKNOWN_ERROR", "the configured Places URL is not usable"),
                "{url}"
            );
        }
    }

    #[test]
    fn empty_url_means_the_new_endpoint_and_debug_hides_the_key() {
        let google = GoogleNew::new("", KEY.to_owned(), Duration::from_secs(5));
        assert_eq!(google.url, NEW_URL);
        let shown = format!("{google:?}");
        assert!(!shown.contains(KEY), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
