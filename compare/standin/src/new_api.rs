//! `POST /v1/places:searchNearby`: Nearby Search (New) (docs/places.md,
//! "What Google says"), as Google answers it.
//!
//! Input: the query string (system parameters `key`/`$key`,
//! `fields`/`$fields`, `prettyPrint`), the `X-Goog-Api-Key` and
//! `X-Goog-FieldMask` headers (which win over the parameters) and the JSON
//! body (a `SearchNearbyRequest`; lowerCamelCase or snake_case names;
//! numbers as JSON numbers or numeric strings, as ProtoJSON allows).
//! Output: a [`Reply`]: `{"places": [...]}` cut to the field mask, `{}` when
//! nothing matches, or a Google error envelope
//! `{"error": {"code", "message", "status", "details"}}` with the matching
//! HTTP status. JSON is pretty-printed with two spaces (`prettyPrint=false`:
//! compact).
//!
//! Checks, in this order: key (missing: 403 `PERMISSION_DENIED`; unknown:
//! 400 `API_KEY_INVALID`), field mask (`field_mask.rs`; missing or naming
//! an unknown path: 400), body (`new_request.rs`; 400 `INVALID_ARGUMENT`
//! with a `google.rpc.BadRequest` detail). Only the key, field-mask and
//! "Unsupported types" messages are Google's own words.
//!
//! A place: `name` `places/<id>`, `id`, `types`, `formattedAddress`
//! (`<name>, <vicinity>`), `location` (the data file's numbers verbatim),
//! `viewport` (see [`viewport`]), `displayName` {text, languageCode "en"},
//! `primaryType` "locality", `shortFormattedAddress` (the legacy
//! `vicinity`); in that order, which is Google's (proto field numbers).
//! `rankPreference`, `languageCode`, `regionCode` and `routingParameters`
//! are checked for type only: both rankings give nearest first.

use hyper::HeaderMap;
use serde_json::{Map, Number, Value, json};

use super::faults::Fault;
use super::field_mask::{FieldMask, unknown_path_message};
use super::new_request::SearchRequest;
use super::search::{self, PLACE_TYPES, PRIMARY_TYPE};
use super::server::Context;
use super::{KeyCheck, Reply, check_key};
use herd::places::Place;

/// Google's message for a request without any credentials.
pub const MISSING_KEY: &str = "Method doesn't allow unregistered callers (callers without \
     established identity). Please use API Key or other form of API consumer identity to call \
     this API.";

/// Google's message for a key it does not know.
pub const INVALID_KEY: &str = "API key not valid. Please pass a valid API key.";

/// Google's message for a request without a field mask.
pub const MISSING_MASK: &str = "FieldMask is a required parameter. See \
     https://cloud.google.com/apis/docs/system-parameters on how to provide it. As an example, \
     you can set the header 'X-Goog-FieldMask' to value 'displayName', 'id' to ask for the \
     display name and the place id of a place. You can also set the value to '*' in manual \
     testing to get all the available response fields.";

/// Half the side of a place's viewport, in degrees.
const VIEWPORT_HALF_DEG: f64 = 0.01;

const SERVICE: &str = "places.googleapis.com";
const METHOD: &str = "google.maps.places.v1.Places.SearchNearby";

/// The answer to one New API request.
pub fn answer(context: &Context, query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Reply {
    let params: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    let param = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|name| params.iter().find(|(k, _)| k == name))
            .map(|(_, v)| v.as_str())
    };
    let pretty = param(["prettyPrint", "$prettyPrint"]).is_none_or(|v| v != "false");
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let key = header("x-goog-api-key").or_else(|| param(["key", "$key"]));
    let reply = match check_key(&context.keys, key) {
        KeyCheck::Accepted => search_reply(context, header("x-goog-fieldmask"), &param, body),
        KeyCheck::Missing => Err(missing_key()),
        KeyCheck::Unknown => Err(invalid_key()),
    };
    match reply {
        Ok(value) => Reply::json(200, render(&value, pretty)),
        Err(error) => error.reply(pretty),
    }
}

/// The answer a fault puts in place of the real one, if the fault has its
/// own.
pub fn fault_reply(fault: Fault) -> Option<Reply> {
    let error = match fault {
        Fault::Http500 => ApiError::new(500, "INTERNAL", "Internal error encountered."),
        Fault::UnknownError => {
            ApiError::new(503, "UNAVAILABLE", "The service is currently unavailable.")
        }
        Fault::OverQueryLimit => ApiError::new(
            429,
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'SearchNearby requests' and limit 'SearchNearby \
             requests per minute' of service 'places.googleapis.com' for consumer \
             'project_number:0'.",
        )
        .detail(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "RATE_LIMIT_EXCEEDED",
            "domain": "googleapis.com",
            "metadata": {
                "service": SERVICE,
                "quota_limit": "SearchNearbyRequestPerMinutePerProject",
                "consumer": "projects/0"
            }
        })),
        Fault::BrokenJson | Fault::DropConnection | Fault::NeverAnswer => return None,
    };
    Some(error.reply(true))
}

/// The search answer, after the key was accepted.
fn search_reply<'p>(
    context: &Context,
    mask_header: Option<&str>,
    param: &impl Fn([&str; 2]) -> Option<&'p str>,
    body: &[u8],
) -> Result<Value, ApiError> {
    let mask_text = mask_header.or_else(|| param(["fields", "$fields"]));
    let mask = match FieldMask::parse(mask_text.unwrap_or("")) {
        Ok(Some(mask)) => mask,
        Ok(None) => return Err(ApiError::new(400, "INVALID_ARGUMENT", MISSING_MASK)),
        Err(path) => {
            return Err(ApiError::new(
                400,
                "INVALID_ARGUMENT",
                &unknown_path_message(&path),
            ));
        }
    };
    let request = SearchRequest::from_body(body)?;
    let found = search::nearby(
        context.index,
        request.lat,
        request.lng,
        request.radius_m,
        request.max_results,
        |_| request.keeps_localities(),
    );
    let places: Vec<Value> = found
        .iter()
        .map(|place| mask.select(&place_json(place)))
        .collect();
    let mut answer = Map::new();
    if !places.is_empty() && mask.wants_places() {
        answer.insert("places".into(), Value::Array(places));
    }
    Ok(Value::Object(answer))
}

fn render(value: &Value, pretty: bool) -> Vec<u8> {
    let text = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    text.unwrap_or_default()
}

/// One place with every field the stand-in fills, in Google's order.
fn place_json(place: &Place) -> Value {
    let number = |text: &str| serde_json::from_str::<Number>(text).map(Value::Number);
    let (lat, lng) = match (number(place.lat_text()), number(place.lng_text())) {
        (Ok(lat), Ok(lng)) => (lat, lng),
        _ => (Value::from(place.lat()), Value::from(place.lng())),
    };
    let vicinity = place.vicinity();
    let formatted = if vicinity.is_empty() {
        place.name().to_owned()
    } else {
        format!("{}, {vicinity}", place.name())
    };
    json!({
        "name": format!("places/{}", place.place_id()),
        "id": place.place_id(),
        "types": PLACE_TYPES,
        "formattedAddress": formatted,
        "location": {"latitude": lat, "longitude": lng},
        "viewport": viewport(place.lat(), place.lng()),
        "displayName": {"text": place.name(), "languageCode": "en"},
        "primaryType": PRIMARY_TYPE,
        "shortFormattedAddress": vicinity,
    })
}

/// A box of [`VIEWPORT_HALF_DEG`] (0.01 degree, about 1.1 km of latitude)
/// on each side of the point: latitudes clamped to [-90, 90], longitudes
/// wrapped into [-180, 180] (so `low` is east of `high` across the
/// antimeridian, as Google's viewports are), each rounded to 7 decimals.
pub fn viewport(lat: f64, lng: f64) -> Value {
    let lat_of = |x: f64| degrees(x.clamp(-90.0, 90.0));
    let lng_of = |x: f64| {
        let wrapped = if x > 180.0 {
            x - 360.0
        } else if x < -180.0 {
            x + 360.0
        } else {
            x
        };
        degrees(wrapped)
    };
    json!({
        "low": {
            "latitude": lat_of(lat - VIEWPORT_HALF_DEG),
            "longitude": lng_of(lng - VIEWPORT_HALF_DEG)
        },
        "high": {
            "latitude": lat_of(lat + VIEWPORT_HALF_DEG),
            "longitude": lng_of(lng + VIEWPORT_HALF_DEG)
        }
    })
}

/// `x` rounded to 7 decimals, written without trailing zeros.
fn degrees(x: f64) -> Value {
    let text = format!("{x:.7}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    let text = if text == "-0" { "0" } else { text };
    serde_json::from_str::<Number>(text)
        .map(Value::Number)
        .unwrap_or_else(|_| Value::from(x))
}

/// An error in Google's envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub status: &'static str,
    pub message: String,
    pub details: Vec<Value>,
}

impl ApiError {
    pub fn new(code: u16, status: &'static str, message: &str) -> ApiError {
        ApiError {
            code,
            status,
            message: message.to_owned(),
            details: Vec::new(),
        }
    }

    pub fn detail(mut self, detail: Value) -> ApiError {
        self.details.push(detail);
        self
    }

    /// 400 `INVALID_ARGUMENT` about one request field.
    pub fn bad_field(field: &str, message: String) -> ApiError {
        ApiError::new(400, "INVALID_ARGUMENT", &message).detail(json!({
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [{"field": field, "description": message}]
        }))
    }

    fn reply(&self, pretty: bool) -> Reply {
        let value = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "details": self.details,
            }
        });
        Reply::json(self.code, render(&value, pretty))
    }
}

fn missing_key() -> ApiError {
    ApiError::new(403, "PERMISSION_DENIED", MISSING_KEY).detail(json!({
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "CREDENTIALS_MISSING",
        "domain": "googleapis.com",
        "metadata": {"service": SERVICE, "method": METHOD}
    }))
}

fn invalid_key() -> ApiError {
    ApiError::new(400, "INVALID_ARGUMENT", INVALID_KEY)
        .detail(json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_INVALID",
            "domain": "googleapis.com",
            "metadata": {"service": SERVICE}
        }))
        .detail(json!({
            "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
            "locale": "en-US",
            "message": INVALID_KEY
        }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::Pages;
    use herd::places::OfflineIndex;
    use std::time::Duration;

    const UCLA_BODY: &str = r#"{"locationRestriction": {"circle": {
        "center": {"latitude": 34.068930, "longitude": -118.445127}, "radius": 30000}}}"#;

    fn context(keys: &[&str]) -> Context {
        Context {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            index: OfflineIndex::shared().unwrap(),
            pages: Pages::new(Duration::ZERO, 1),
        }
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    fn ask(
        context: &Context,
        query: &str,
        pairs: &[(&'static str, &str)],
        body: &str,
    ) -> (u16, Value) {
        let reply = answer(context, Some(query), &headers(pairs), body.as_bytes());
        assert_eq!(reply.content_type, "application/json; charset=UTF-8");
        (reply.status, serde_json::from_slice(&reply.body).unwrap())
    }

    fn search(body: &str) -> (u16, Value) {
        ask(
            &context(&[]),
            "",
            &[("x-goog-api-key", "k"), ("x-goog-fieldmask", "*")],
            body,
        )
    }

    fn error_of(answer: &(u16, Value)) -> (u16, String, String) {
        let error = &answer.1["error"];
        assert_eq!(error["code"].as_u64(), Some(u64::from(answer.0)));
        assert!(error["details"].is_array());
        (
            answer.0,
            error["status"].as_str().unwrap().to_owned(),
            error["message"].as_str().unwrap().to_owned(),
        )
    }

    #[test]
    fn key_rules() {
        let open = context(&[]);
        let missing = ask(&open, "", &[("x-goog-fieldmask", "*")], UCLA_BODY);
        assert_eq!(
            error_of(&missing),
            (403, "PERMISSION_DENIED".into(), MISSING_KEY.into())
        );
        let closed = context(&["good"]);
        let bad = ask(&closed, "", &[("x-goog-api-key", "bad")], UCLA_BODY);
        assert_eq!(
            error_of(&bad),
            (400, "INVALID_ARGUMENT".into(), INVALID_KEY.into())
        );
        assert_eq!(bad.1["error"]["details"][0]["reason"], "API_KEY_INVALID");
        let by_param = ask(&closed, "key=good&fields=places.id", &[], UCLA_BODY);
        assert_eq!(by_param.0, 200);
        let by_dollar = ask(&closed, "$key=good&$fields=places.id", &[], UCLA_BODY);
        assert_eq!(by_dollar, by_param);
        let header_wins = ask(
            &closed,
            "key=bad&fields=places.id",
            &[("x-goog-api-key", "good")],
            UCLA_BODY,
        );
        assert_eq!(header_wins.0, 200);
    }

    #[test]
    fn field_mask_rules() {
        let context = context(&[]);
        let missing = ask(&context, "", &[("x-goog-api-key", "k")], UCLA_BODY);
        assert_eq!(
            error_of(&missing),
            (400, "INVALID_ARGUMENT".into(), MISSING_MASK.into())
        );
        let unknown = ask(
            &context,
            "",
            &[
                ("x-goog-api-key", "k"),
                ("x-goog-fieldmask", "places.id,places.nope"),
            ],
            UCLA_BODY,
        );
        assert_eq!(error_of(&unknown).2, unknown_path_message("places.nope"));
        let (status, body) = ask(
            &context,
            "fields=places.id",
            &[
                ("x-goog-api-key", "k"),
                ("x-goog-fieldmask", "places.displayName.text"),
            ],
            UCLA_BODY,
        );
        assert_eq!(status, 200);
        let first = &body["places"][0];
        assert_eq!(
            first.as_object().unwrap().len(),
            1,
            "the header wins: {first}"
        );
        assert_eq!(first["displayName"]["text"], "Westwood, Los Angeles");
    }

    #[test]
    fn full_place_shape() {
        let (status, body) = search(UCLA_BODY);
        assert_eq!(status, 200);
        let places = body["places"].as_array().unwrap();
        assert_eq!(places.len(), 20);
        let first = places[0].as_object().unwrap();
        let keys: Vec<&str> = first.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "id",
                "types",
                "formattedAddress",
                "location",
                "viewport",
                "displayName",
                "primaryType",
                "shortFormattedAddress"
            ]
        );
        let id = first["id"].as_str().unwrap();
        assert_eq!(first["name"], format!("places/{id}"));
        assert_eq!(
            first["displayName"],
            json!({"text": "Westwood, Los Angeles", "languageCode": "en"})
        );
        assert_eq!(
            first["shortFormattedAddress"],
            "Los Angeles County, California, US"
        );
        assert_eq!(
            first["formattedAddress"],
            "Westwood, Los Angeles, Los Angeles County, California, US"
        );
        assert_eq!(first["types"], json!(["locality", "political"]));
        assert_eq!(first["primaryType"], "locality");
    }

    #[test]
    fn pretty_printed_with_two_spaces() {
        let reply = answer(
            &context(&[]),
            None,
            &headers(&[("x-goog-api-key", "k"), ("x-goog-fieldmask", "places.id")]),
            UCLA_BODY.as_bytes(),
        );
        let text = String::from_utf8(reply.body.to_vec()).unwrap();
        assert!(
            text.starts_with("{\n  \"places\": [\n    {\n      \"id\": \""),
            "{text}"
        );
        let compact = answer(
            &context(&[]),
            Some("prettyPrint=false"),
            &headers(&[("x-goog-api-key", "k"), ("x-goog-fieldmask", "places.id")]),
            UCLA_BODY.as_bytes(),
        );
        assert!(
            String::from_utf8(compact.body.to_vec())
                .unwrap()
                .starts_with("{\"places\":[{\"id\":")
        );
    }

    #[test]
    fn zero_matches_is_an_empty_object() {
        let body = r#"{"locationRestriction": {"circle": {"center": {"latitude": 0, "longitude": -140}, "radius": 50000}}}"#;
        let reply = answer(
            &context(&[]),
            None,
            &headers(&[("x-goog-api-key", "k"), ("x-goog-fieldmask", "*")]),
            body.as_bytes(),
        );
        assert_eq!((reply.status, &reply.body[..]), (200, &b"{}"[..]));
    }

    #[test]
    fn body_validation() {
        let circle = |center: &str, radius: &str| {
            format!(
                r#"{{"locationRestriction": {{"circle": {{"center": {center}, "radius": {radius}}}}}}}"#
            )
        };
        let ok_center = r#"{"latitude": 34, "longitude": -118}"#;
        for (body, needle) in [
            ("{".to_owned(), "Invalid JSON payload received."),
            ("[]".to_owned(), "Root element must be a message."),
            ("{}".to_owned(), "locationRestriction.circle is required."),
            (
                r#"{"locationRestriction": {}}"#.to_owned(),
                "locationRestriction.circle is required.",
            ),
            (
                r#"{"locationRestriction": {"circle": {"radius": 5}}}"#.to_owned(),
                "center is required",
            ),
            (
                r#"{"locationRestriction": {"rectangle": {}}}"#.to_owned(),
                "Unknown name \"rectangle\"",
            ),
            (
                r#"{"keyword": "x"}"#.to_owned(),
                "Unknown name \"keyword\": Cannot find field.",
            ),
            (
                circle(ok_center, "50001"),
                "radius must be within [0.0, 50000.0]",
            ),
            (circle(ok_center, "-1"), "radius must be within"),
            (
                circle(ok_center, "\"far\""),
                "Invalid value at 'location_restriction.circle.radius' (TYPE_DOUBLE), \"far\"",
            ),
            (
                circle(r#"{"latitude": 91, "longitude": 0}"#, "10"),
                "Latitude must be within",
            ),
            (
                circle(r#"{"latitude": 0, "longitude": -180.1}"#, "10"),
                "Longitude must be within",
            ),
            (circle(r#"{"lat": 0}"#, "10"), "Unknown name \"lat\""),
            (
                circle("5", "10"),
                "Invalid value at 'location_restriction.circle.center'",
            ),
        ] {
            let answer = search(&body);
            let (status, code, message) = error_of(&answer);
            assert_eq!((status, code.as_str()), (400, "INVALID_ARGUMENT"), "{body}");
            assert!(message.contains(needle), "{body}: {message}");
        }
    }

    fn with(extra: &str) -> String {
        format!(
            r#"{{"locationRestriction": {{"circle": {{"center": {{"latitude": 34.06893, "longitude": -118.445127}}, "radius": 30000}}}}{extra}}}"#
        )
    }

    fn count(answer: &(u16, Value)) -> usize {
        assert_eq!(answer.0, 200, "{}", answer.1);
        answer
            .1
            .get("places")
            .map_or(0, |p| p.as_array().unwrap().len())
    }

    #[test]
    fn max_result_count() {
        assert_eq!(count(&search(&with(r#", "maxResultCount": 5"#))), 5);
        assert_eq!(count(&search(&with(r#", "maxResultCount": "7""#))), 7);
        assert_eq!(count(&search(&with(r#", "maxResultCount": 0"#))), 20);
        assert_eq!(count(&search(&with(r#", "maxResultCount": 20"#))), 20);
        for bad in ["21", "-1"] {
            let answer = search(&with(&format!(r#", "maxResultCount": {bad}"#)));
            assert!(
                error_of(&answer)
                    .2
                    .contains("maxResultCount must be between 1 and 20")
            );
        }
        let fraction = search(&with(r#", "maxResultCount": 1.5"#));
        assert!(error_of(&fraction).2.contains("(TYPE_INT32)"));
    }

    #[test]
    fn types() {
        assert_eq!(
            count(&search(&with(r#", "includedTypes": ["locality"]"#))),
            20
        );
        assert_eq!(
            count(&search(&with(r#", "includedTypes": ["restaurant"]"#))),
            0
        );
        assert_eq!(
            count(&search(&with(r#", "excludedTypes": ["locality"]"#))),
            0
        );
        assert_eq!(
            count(&search(&with(r#", "includedPrimaryTypes": ["locality"]"#))),
            20
        );
        assert_eq!(
            count(&search(&with(r#", "excludedPrimaryTypes": ["country"]"#))),
            20
        );
        assert_eq!(count(&search(&with(r#", "included_types": ["cafe"]"#))), 0);
        let unsupported = search(&with(
            r#", "includedTypes": ["attraction", "political", "attraction"]"#,
        ));
        assert_eq!(
            error_of(&unsupported).2,
            "Unsupported types: attraction, political."
        );
        let both = search(&with(
            r#", "includedTypes": ["cafe"], "excludedTypes": ["cafe"]"#,
        ));
        assert!(error_of(&both).2.contains("'cafe' is in both"));
        assert_eq!(
            count(&search(&with(
                r#", "rankPreference": "DISTANCE", "languageCode": "en""#
            ))),
            20
        );
        let rank = search(&with(r#", "rankPreference": "NEAREST""#));
        assert!(
            error_of(&rank)
                .2
                .starts_with("Invalid value at 'rank_preference'")
        );
    }

    #[test]
    fn viewport_box() {
        assert_eq!(
            viewport(34.06893, -118.445127),
            json!({"low": {"latitude": 34.05893, "longitude": -118.455127},
                   "high": {"latitude": 34.07893, "longitude": -118.435127}})
        );
        assert_eq!(
            viewport(89.995, 179.995).to_string(),
            r#"{"low":{"latitude":89.985,"longitude":179.985},"high":{"latitude":90,"longitude":-179.995}}"#
        );
        assert_eq!(
            viewport(0.005, 0.0)["low"]["latitude"].to_string(),
            "-0.005"
        );
        assert_eq!(viewport(0.01, 0.0)["low"]["latitude"].to_string(), "0");
    }

    #[test]
    fn faults_use_the_envelope() {
        for (fault, code, status) in [
            (Fault::Http500, 500, "INTERNAL"),
            (Fault::UnknownError, 503, "UNAVAILABLE"),
            (Fault::OverQueryLimit, 429, "RESOURCE_EXHAUSTED"),
        ] {
            let reply = fault_reply(fault).unwrap();
            let value: Value = serde_json::from_slice(&reply.body).unwrap();
            assert_eq!(reply.status, code);
            assert_eq!(value["error"]["status"], status);
            assert_eq!(value["error"]["code"], code);
        }
        assert_eq!(fault_reply(Fault::NeverAnswer), None);
    }
}
