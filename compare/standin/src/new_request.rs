//! The request body of Nearby Search (New), read and checked as Google's
//! front end does.
//!
//! Input: the body bytes of `POST /v1/places:searchNearby` (a
//! `SearchNearbyRequest` in ProtoJSON: lowerCamelCase or snake_case names,
//! numbers as JSON numbers or numeric strings, `null` as absent, an empty
//! body as `{}`). Output: a [`SearchRequest`] (circle, result count, type
//! filters), or the 400 `INVALID_ARGUMENT` [`ApiError`] for: malformed JSON,
//! a body that is not an object, unknown field names, values of the wrong
//! type, `locationRestriction.circle` or its `center` missing, a radius
//! outside [0, 50000], latitude or longitude out of range,
//! `maxResultCount` outside 0..=20 (0 or unset: 20), types outside Table A
//! (`Unsupported types: a, b.`, Google's words), a type both included and
//! excluded. `rankPreference`, `languageCode` and `regionCode` are checked
//! for type only; `routingParameters` is not checked.

use serde_json::{Map, Value};

use super::field_mask::to_camel;
use super::new_api::ApiError;
use super::place_types;
use super::search::{self, MAX_RADIUS_M, PRIMARY_TYPE};

/// Most places in one answer (and the default).
const MAX_RESULT_COUNT: i64 = 20;

/// A `SearchNearbyRequest`: what the search needs from it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchRequest {
    /// `Some` once `locationRestriction.circle.center` was given.
    center: Option<(f64, f64)>,
    has_circle: bool,
    pub lat: f64,
    pub lng: f64,
    pub radius_m: f64,
    max_result_count: i64,
    /// `maxResultCount`, 0 made 20.
    pub max_results: usize,
    included: Vec<String>,
    excluded: Vec<String>,
    included_primary: Vec<String>,
    excluded_primary: Vec<String>,
}

/// Type names for "Invalid value" messages, as Google's front end writes them.
const TYPE_DOUBLE: &str = "TYPE_DOUBLE";
const TYPE_INT32: &str = "TYPE_INT32";
const TYPE_STRING: &str = "TYPE_STRING";
const TYPE_RESTRICTION: &str =
    "type.googleapis.com/google.maps.places.v1.SearchNearbyRequest.LocationRestriction";
const TYPE_CIRCLE: &str = "type.googleapis.com/google.maps.places.v1.Circle";
const TYPE_LAT_LNG: &str = "type.googleapis.com/google.type.LatLng";
const TYPE_RANK: &str =
    "type.googleapis.com/google.maps.places.v1.SearchNearbyRequest.RankPreference";

impl SearchRequest {
    /// The validated request in `body`, or the error Google would answer.
    pub fn from_body(body: &[u8]) -> Result<SearchRequest, ApiError> {
        let mut request = SearchRequest::parse(body)?;
        request.validate()?;
        Ok(request)
    }

    /// Reads the JSON body; an empty body is an empty request.
    fn parse(body: &[u8]) -> Result<SearchRequest, ApiError> {
        let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(body).map_err(|e| {
                ApiError::bad_field("", format!("Invalid JSON payload received. {e}."))
            })?
        };
        let mut request = SearchRequest::default();
        let Value::Object(top) = &value else {
            return Err(ApiError::bad_field(
                "",
                "Invalid JSON payload received. Unknown name \"\": Root element must be a \
                 message."
                    .to_owned(),
            ));
        };
        for (name, value) in members(top) {
            match name.as_str() {
                "locationRestriction" => request.read_restriction(value)?,
                "includedTypes" => request.included = strings(value, "included_types")?,
                "excludedTypes" => request.excluded = strings(value, "excluded_types")?,
                "includedPrimaryTypes" => {
                    request.included_primary = strings(value, "included_primary_types")?;
                }
                "excludedPrimaryTypes" => {
                    request.excluded_primary = strings(value, "excluded_primary_types")?;
                }
                "maxResultCount" => request.max_result_count = int32(value, "max_result_count")?,
                "rankPreference" => rank_preference(value)?,
                "languageCode" => {
                    string(value, "language_code")?;
                }
                "regionCode" => {
                    string(value, "region_code")?;
                }
                "routingParameters" => {}
                _ => return Err(unknown_name(&name)),
            }
        }
        Ok(request)
    }

    fn read_restriction(&mut self, value: &Value) -> Result<(), ApiError> {
        let restriction = message(value, "location_restriction", TYPE_RESTRICTION)?;
        for (name, value) in members(restriction) {
            if name != "circle" {
                return Err(unknown_name(&name));
            }
            self.has_circle = true;
            let circle = message(value, "location_restriction.circle", TYPE_CIRCLE)?;
            for (name, value) in members(circle) {
                match name.as_str() {
                    "radius" => {
                        self.radius_m = double(value, "location_restriction.circle.radius")?;
                    }
                    "center" => self.read_center(value)?,
                    _ => return Err(unknown_name(&name)),
                }
            }
        }
        Ok(())
    }

    fn read_center(&mut self, value: &Value) -> Result<(), ApiError> {
        const AT: &str = "location_restriction.circle.center";
        let center = message(value, AT, TYPE_LAT_LNG)?;
        let (mut lat, mut lng) = (0.0, 0.0);
        for (name, value) in members(center) {
            match name.as_str() {
                "latitude" => lat = double(value, &format!("{AT}.latitude"))?,
                "longitude" => lng = double(value, &format!("{AT}.longitude"))?,
                _ => return Err(unknown_name(&name)),
            }
        }
        self.center = Some((lat, lng));
        Ok(())
    }

    /// Range and consistency checks; sets the search fields.
    fn validate(&mut self) -> Result<(), ApiError> {
        if !self.has_circle {
            return Err(ApiError::bad_field(
                "location_restriction",
                "locationRestriction.circle is required.".to_owned(),
            ));
        }
        let Some((lat, lng)) = self.center else {
            return Err(ApiError::bad_field(
                "location_restriction.circle.center",
                "locationRestriction.circle.center is required.".to_owned(),
            ));
        };
        if !(0.0..=MAX_RADIUS_M).contains(&self.radius_m) {
            return Err(ApiError::bad_field(
                "location_restriction.circle.radius",
                format!(
                    "locationRestriction.circle.radius must be within [0.0, 50000.0], not {}.",
                    self.radius_m
                ),
            ));
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(ApiError::bad_field(
                "location_restriction.circle.center.latitude",
                format!("Latitude must be within [-90.0, 90.0], not {lat}."),
            ));
        }
        if !(-180.0..=180.0).contains(&lng) {
            return Err(ApiError::bad_field(
                "location_restriction.circle.center.longitude",
                format!("Longitude must be within [-180.0, 180.0], not {lng}."),
            ));
        }
        if !(0..=MAX_RESULT_COUNT).contains(&self.max_result_count) {
            return Err(ApiError::bad_field(
                "max_result_count",
                format!(
                    "maxResultCount must be between 1 and 20, not {}.",
                    self.max_result_count
                ),
            ));
        }
        self.check_types()?;
        (self.lat, self.lng) = (lat, lng);
        let count = if self.max_result_count == 0 {
            MAX_RESULT_COUNT
        } else {
            self.max_result_count
        };
        self.max_results = usize::try_from(count).unwrap_or(20);
        Ok(())
    }

    /// Every type in Table A; no type both included and excluded.
    fn check_types(&self) -> Result<(), ApiError> {
        let lists = [
            &self.included,
            &self.excluded,
            &self.included_primary,
            &self.excluded_primary,
        ];
        let mut unsupported: Vec<&str> = Vec::new();
        for name in lists.iter().flat_map(|list| list.iter()) {
            if !place_types::is_supported(name) && !unsupported.contains(&name.as_str()) {
                unsupported.push(name);
            }
        }
        if !unsupported.is_empty() {
            return Err(ApiError::bad_field(
                "included_types",
                format!("Unsupported types: {}.", unsupported.join(", ")),
            ));
        }
        for (inc, exc, inc_name, exc_name) in [
            (
                &self.included,
                &self.excluded,
                "includedTypes",
                "excludedTypes",
            ),
            (
                &self.included_primary,
                &self.excluded_primary,
                "includedPrimaryTypes",
                "excludedPrimaryTypes",
            ),
        ] {
            if let Some(both) = inc.iter().find(|t| exc.contains(t)) {
                return Err(ApiError::bad_field(
                    "excluded_types",
                    format!("Type '{both}' is in both {inc_name} and {exc_name}."),
                ));
            }
        }
        Ok(())
    }

    /// Whether the data set's places (all localities) pass the type filters.
    pub fn keeps_localities(&self) -> bool {
        let any_type = |list: &[String]| list.iter().any(|t| search::has_type(t));
        let primary = |list: &[String]| list.iter().any(|t| t == PRIMARY_TYPE);
        (self.included.is_empty() || any_type(&self.included))
            && !any_type(&self.excluded)
            && (self.included_primary.is_empty() || primary(&self.included_primary))
            && !primary(&self.excluded_primary)
    }
}

/// The members of a message object with names turned lowerCamelCase;
/// nulls (the default value in ProtoJSON) are left out.
fn members(object: &Map<String, Value>) -> Vec<(String, &Value)> {
    object
        .iter()
        .filter(|(_, value)| !value.is_null())
        .map(|(name, value)| (to_camel(name), value))
        .collect()
}

fn unknown_name(name: &str) -> ApiError {
    ApiError::bad_field(
        "",
        format!("Invalid JSON payload received. Unknown name \"{name}\": Cannot find field."),
    )
}

fn invalid_value(at: &str, type_name: &str, value: &Value) -> ApiError {
    ApiError::bad_field(
        at,
        format!("Invalid value at '{at}' ({type_name}), {value}"),
    )
}

fn message<'v>(
    value: &'v Value,
    at: &str,
    type_name: &str,
) -> Result<&'v Map<String, Value>, ApiError> {
    value
        .as_object()
        .ok_or_else(|| invalid_value(at, type_name, value))
}

/// A double: a JSON number or a numeric string (ProtoJSON).
fn double(value: &Value, at: &str) -> Result<f64, ApiError> {
    let number = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    number
        .filter(|x| !x.is_nan())
        .ok_or_else(|| invalid_value(at, TYPE_DOUBLE, value))
}

/// An int32: a whole JSON number or numeric string.
fn int32(value: &Value, at: &str) -> Result<i64, ApiError> {
    let number = match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    number
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or_else(|| invalid_value(at, TYPE_INT32, value))
}

fn string<'v>(value: &'v Value, at: &str) -> Result<&'v str, ApiError> {
    value
        .as_str()
        .ok_or_else(|| invalid_value(at, TYPE_STRING, value))
}

fn strings(value: &Value, at: &str) -> Result<Vec<String>, ApiError> {
    let Value::Array(items) = value else {
        return Err(invalid_value(at, TYPE_STRING, value));
    };
    items
        .iter()
        .map(|item| string(item, at).map(str::to_owned))
        .collect()
}

/// `POPULARITY`, `DISTANCE`, `RANK_PREFERENCE_UNSPECIFIED` or their numbers.
fn rank_preference(value: &Value) -> Result<(), ApiError> {
    let ok = match value {
        Value::String(s) => {
            matches!(
                s.as_str(),
                "RANK_PREFERENCE_UNSPECIFIED" | "DISTANCE" | "POPULARITY"
            )
        }
        Value::Number(n) => matches!(n.as_i64(), Some(0..=2)),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(invalid_value("rank_preference", TYPE_RANK, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: &str) -> Result<SearchRequest, String> {
        SearchRequest::from_body(body.as_bytes()).map_err(|e| e.message)
    }

    const CIRCLE: &str = r#""locationRestriction": {"circle": {"center":
        {"latitude": 34.5, "longitude": -118.25}, "radius": 1500}}"#;

    #[test]
    fn a_plain_request() {
        let request = read(&format!("{{{CIRCLE}}}")).unwrap();
        let got = (
            request.lat,
            request.lng,
            request.radius_m,
            request.max_results,
        );
        assert_eq!(got, (34.5, -118.25, 1500.0, 20));
        assert!(request.keeps_localities());
    }

    #[test]
    fn protojson_spellings() {
        let body = r#"{"location_restriction": {"circle": {"center":
            {"latitude": "34.5", "longitude": -118.25}, "radius": "1500"}},
            "max_result_count": "3", "rank_preference": 2, "language_code": null}"#;
        let request = read(body).unwrap();
        assert_eq!(
            (request.lat, request.radius_m, request.max_results),
            (34.5, 1500.0, 3)
        );
        // A missing coordinate or radius is 0, as in proto3.
        let zero = read(r#"{"locationRestriction": {"circle": {"center": {}}}}"#).unwrap();
        assert_eq!((zero.lat, zero.lng, zero.radius_m), (0.0, 0.0, 0.0));
    }

    #[test]
    fn refusals() {
        for (body, needle) in [
            ("", "locationRestriction.circle is required."),
            ("  \n", "locationRestriction.circle is required."),
            ("null", "Root element must be a message."),
            (
                r#"{"maxResultCount": 5}"#,
                "locationRestriction.circle is required.",
            ),
            (
                r#"{"locationRestriction": null}"#,
                "locationRestriction.circle is required.",
            ),
            (
                r#"{"locationRestriction": []}"#,
                "Invalid value at 'location_restriction'",
            ),
            (
                r#"{"includedTypes": "cafe"}"#,
                "Invalid value at 'included_types'",
            ),
            (r#"{"maxResultCount": 99999999999}"#, "(TYPE_INT32)"),
            (
                r#"{"regionCode": 5}"#,
                "Invalid value at 'region_code' (TYPE_STRING), 5",
            ),
        ] {
            let message = read(body).unwrap_err();
            assert!(message.contains(needle), "{body:?}: {message}");
        }
        let both = format!(
            r#"{{{CIRCLE}, "includedPrimaryTypes": ["locality"],
            "excludedPrimaryTypes": ["locality"]}}"#
        );
        assert!(
            read(&both)
                .unwrap_err()
                .contains("includedPrimaryTypes and excludedPrimaryTypes")
        );
    }

    #[test]
    fn type_filters_on_localities() {
        let with = |extra: &str| {
            read(&format!("{{{CIRCLE}, {extra}}}"))
                .unwrap()
                .keeps_localities()
        };
        assert!(with(r#""includedTypes": ["cafe", "locality"]"#));
        assert!(!with(r#""includedTypes": ["cafe"]"#));
        assert!(!with(r#""excludedTypes": ["locality"]"#));
        assert!(with(r#""excludedTypes": ["cafe"]"#));
        assert!(!with(r#""includedPrimaryTypes": ["country"]"#));
        assert!(!with(r#""excludedPrimaryTypes": ["locality"]"#));
    }
}
