//! The JSON half of a WHATSAT answer (PROTOCOL §2), from whatever a
//! provider answered: the first `bound` results in Google's legacy layout,
//! or an error object of the same shape, with no blank line inside.
//!
//! Both Rust builds call [`answer_json`] with their provider's answer
//! (`cmd/whatsat.rs` in the blocking build, `cmd.rs` in tokio's).

use serde_json::{Map, Value};

use super::json_format::to_google_json;
use super::provider::PlacesError;

/// The JSON text that follows the AT line in a WHATSAT answer, from a
/// provider's `answer`: the provider's object with `results` cut to
/// `bound`, or an error object of the same shape; laid out as Google lays
/// out legacy answers; runs of newlines squeezed to one and trailing
/// newlines dropped, so the text never holds a blank line. Both Rust builds
/// call it with their provider's answer.
pub fn answer_json(answer: Result<Value, PlacesError>, bound: usize) -> String {
    summarized_answer_json(answer, bound).0
}

/// What a WHATSAT answer's summary log entry says of its JSON (PROTOCOL
/// §4): the status and the number of results, as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerSummary {
    pub status: String,
    pub results: usize,
}

/// [`answer_json`], and its summary, read off the object it was made from
/// (the text is never parsed again).
pub fn summarized_answer_json(
    answer: Result<Value, PlacesError>,
    bound: usize,
) -> (String, AnswerSummary) {
    let object = match answer {
        Ok(object) => shape_success(object, bound),
        Err(error) => error_object(&error),
    };
    let summary = AnswerSummary {
        status: object
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or("UNKNOWN_ERROR")
            .to_owned(),
        results: object
            .get("results")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
    };
    (squeeze_newlines(&to_google_json(&object)), summary)
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
