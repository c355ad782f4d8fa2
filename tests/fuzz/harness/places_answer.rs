//! Fuzz harness for the shaping of Places answers: the legacy provider's
//! status check and answer parser, the Places API (New) interpreter, and
//! `answer_json`, on arbitrary response bodies and HTTP statuses.
//!
//! Shared by the `places_answer` fuzz target and the corpus replay in the
//! normal test run (`tests/fuzz_corpus.rs`). Input layout: byte 0 picks the
//! provider, whether the body could be read, and the WHATSAT bound; byte 1
//! (and 2) the HTTP status; the rest is the body. Checked: no panic; the
//! WHATSAT JSON is valid JSON with no blank line and no trailing newline,
//! an object with a string `status` and a `results` list of at most `bound`
//! entries; a legacy OK answer keeps exactly its first `bound` results; an
//! error object for a Places API (New) error never holds the API key.

use herd::places::{PlacesError, answer_json, google, google_new};
use serde_json::Value;

/// The API key the interpreter is told to keep out of its messages.
const KEY: &str = "AIzaFuzzKey-0123456789_abcdefghijklmno";

/// HTTP statuses the providers treat differently, and a few they do not.
const STATUSES: [u16; 8] = [200, 400, 401, 403, 404, 429, 500, 503];

/// Runs one input; panics when an invariant fails.
pub fn run(data: &[u8]) {
    let [mode, status_byte, low, body @ ..] = data else {
        return;
    };
    let new_api = mode & 1 == 1;
    let body_read = mode & 2 == 0;
    let bound = usize::from(mode >> 2) % 22;
    let status = if *status_byte < 0xf0 {
        STATUSES[usize::from(*status_byte) % STATUSES.len()]
    } else {
        u16::from_be_bytes([status_byte & 0x0f, *low])
    };
    let answer = if new_api {
        let read = if body_read {
            Ok(body.to_vec())
        } else {
            Err("Places answer was cut short".to_owned())
        };
        let answer = google_new::interpret(status, read, KEY);
        if let Err(error) = &answer {
            check_no_key(body, error);
        }
        answer
    } else {
        match google::check_status(status) {
            Ok(()) => google::parse_answer(body),
            Err(error) => {
                assert_ne!(status, 200, "HTTP 200 refused");
                Err(error)
            }
        }
    };
    check_json(&answer, &answer_json(answer.clone(), bound), bound);
}

/// The key never reaches an error, whole or cut: a piece of it may be in
/// the message only where Google's own words held that piece without the
/// whole key around it.
fn check_no_key(body: &[u8], error: &PlacesError) {
    assert!(
        !error.message.contains(KEY),
        "the key in {:?}",
        error.message
    );
    assert!(!error.status.contains(KEY), "the key in {:?}", error.status);
    let envelope: Option<Value> = serde_json::from_slice(body).ok();
    let said = |field: &str| {
        let text = envelope.as_ref().and_then(|v| v["error"][field].as_str());
        text.unwrap_or("").replace(KEY, "")
    };
    // The status word keeps only letters, digits and `_`, which may join
    // pieces of Google's text into a piece of the key: look at it that way.
    let status: String = said("status")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let message = said("message");
    for piece in KEY.as_bytes().windows(KEY_PIECE) {
        let piece = String::from_utf8_lossy(piece);
        if !message.contains(&*piece) && !status.contains(&*piece) {
            assert!(
                !error.message.contains(&*piece),
                "part of the key ({piece}) in {:?}",
                error.message
            );
        }
    }
}

/// The shortest piece of the key that counts as showing it.
const KEY_PIECE: usize = 8;

fn check_json(answer: &Result<Value, PlacesError>, json: &str, bound: usize) {
    assert!(!json.contains("\n\n"), "a blank line in the answer");
    assert!(!json.ends_with('\n'), "a trailing newline");
    let value: Value = match serde_json::from_str(json) {
        Ok(value) => value,
        Err(e) => panic!("the answer is not JSON ({e}): {json}"),
    };
    let Some(status) = value.get("status").and_then(Value::as_str) else {
        panic!("no string status in {json}");
    };
    let Some(results) = value.get("results").and_then(Value::as_array) else {
        panic!("no results list in {json}");
    };
    assert!(
        results.len() <= bound,
        "{} results for bound {bound}",
        results.len()
    );
    match answer {
        Ok(given) if matches!(status, "OK" | "ZERO_RESULTS") => {
            // The provider's object, results cut to the bound, otherwise
            // unchanged (numbers included, as the provider wrote them).
            let mut expected = given.clone();
            if let Some(Value::Array(list)) = expected.get_mut("results") {
                list.truncate(bound);
            }
            assert_eq!(value, expected, "the answer is not the provider's object");
        }
        Ok(_) => assert!(value.get("error_message").is_some_and(Value::is_string)),
        Err(error) => {
            assert_eq!(status, error.status);
            assert_eq!(
                value["error_message"].as_str(),
                Some(error.message.as_str())
            );
            assert_eq!(results.len(), 0);
        }
    }
}
