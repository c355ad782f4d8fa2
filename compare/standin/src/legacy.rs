//! `GET /maps/api/place/nearbysearch/json`: legacy Nearby Search
//! (docs/places.md, "What Google says"), as Google answers it.
//!
//! Input: the request's query string (parameters in any order, the first of
//! a repeated parameter wins, unknown ones ignored). Output: an HTTP 200
//! [`Reply`] whose body is a legacy response object laid out by
//! `to_google_json`: keys alphabetical (`error_message`,
//! `html_attributions`, `next_page_token`, `results`, `status`), results
//! exactly as the offline provider builds them.
//!
//! Checks, in this order: the key (`REQUEST_DENIED` with Google's
//! message); a `pagetoken` (all other parameters are then ignored; unknown,
//! expired or too early: `INVALID_REQUEST`); `location` (`lat,lng`, each
//! within range), `rankby` (`prominence` or `distance`), `radius` (a finite
//! number, not negative, required unless `rankby=distance`, forbidden with
//! it), and for
//! `rankby=distance` one of `keyword`, `name`, `type`: any failure is
//! `INVALID_REQUEST` without `error_message`, as Google sends it.
//!
//! Search: radius clamped to 50,000 m (`rankby=distance` searches 50,000 m);
//! `type` keeps places having that type (only the first of `a|b`; a comma
//! list is ignored); `keyword` and `name` each keep places whose name
//! contains them, ignoring case; `opennow` (unless `false` or `0`) keeps
//! nothing, because no place has opening hours; `minprice`, `maxprice` and
//! `language` are ignored. Nearest first, 20 a page, 60 in all.

use std::borrow::Cow;
use std::time::Instant;

use serde_json::{Map, Value};

use super::faults::Fault;
use super::paging::MAX_RESULTS;
use super::search::{self, MAX_RADIUS_M};
use super::server::Context;
use super::{KeyCheck, Reply, check_key};
use herd::places::{Place, legacy_result, to_google_json};

/// Google's message for a request without a key.
pub const MISSING_KEY: &str = "You must use an API key to authenticate each request to Google \
     Maps Platform APIs. For additional information, please refer to http://g.co/dev/maps-no-account";

/// Google's message for a key it does not know.
pub const INVALID_KEY: &str = "The provided API key is invalid.";

/// The message of an `OVER_QUERY_LIMIT` fault.
pub const OVER_QUERY_LIMIT: &str = "You have exceeded your rate-limit for this API.";

/// The answer to one legacy request made at `now`, and whether the same
/// request will always get the same answer (not so for requests that carry
/// a page token or answers that hold one).
pub fn answer(context: &Context, query: Option<&str>, now: Instant) -> (Reply, bool) {
    let params = Params::parse(query.unwrap_or(""));
    match check_key(&context.keys, params.get("key")) {
        KeyCheck::Accepted => {}
        KeyCheck::Missing => return (status_reply("REQUEST_DENIED", Some(MISSING_KEY)), true),
        KeyCheck::Unknown => return (status_reply("REQUEST_DENIED", Some(INVALID_KEY)), true),
    }
    if let Some(token) = params.non_empty("pagetoken") {
        let reply = match context.pages.redeem(token, now) {
            Ok((page, next)) => page_reply(&page, next.as_deref()),
            Err(_) => status_reply("INVALID_REQUEST", None),
        };
        return (reply, false);
    }
    let Ok(search) = Search::from_params(&params) else {
        return (status_reply("INVALID_REQUEST", None), true);
    };
    let found = search::nearby(
        context.index,
        search.lat,
        search.lng,
        search.radius_m,
        MAX_RESULTS,
        |place| search.keeps(place),
    );
    let (page, next) = context.pages.first_page(found, now);
    (page_reply(&page, next.as_deref()), next.is_none())
}

/// The answer a fault puts in place of the real one, if the fault has its
/// own (broken JSON, dropped and unanswered requests use the real answer
/// or none).
pub fn fault_reply(fault: Fault) -> Option<Reply> {
    match fault {
        Fault::Http500 => Some(Reply::html_error(500)),
        Fault::UnknownError => Some(status_reply("UNKNOWN_ERROR", None)),
        Fault::OverQueryLimit => Some(status_reply("OVER_QUERY_LIMIT", Some(OVER_QUERY_LIMIT))),
        Fault::BrokenJson | Fault::DropConnection | Fault::NeverAnswer => None,
    }
}

/// An answer without results: `status`, and `error_message` if given.
pub fn status_reply(status: &str, message: Option<&str>) -> Reply {
    let mut object = Map::new();
    if let Some(message) = message {
        object.insert("error_message".into(), Value::from(message));
    }
    object.insert("html_attributions".into(), Value::Array(Vec::new()));
    object.insert("results".into(), Value::Array(Vec::new()));
    object.insert("status".into(), Value::from(status));
    Reply::json(200, to_google_json(&Value::Object(object)))
}

/// `OK` with a page of results (and the next page's token), or
/// `ZERO_RESULTS`.
fn page_reply(page: &[&Place], next: Option<&str>) -> Reply {
    if page.is_empty() {
        return status_reply("ZERO_RESULTS", None);
    }
    let results: Result<Vec<Value>, _> = page.iter().map(|place| legacy_result(place)).collect();
    let Ok(results) = results else {
        return status_reply("UNKNOWN_ERROR", Some("The offline data set is damaged."));
    };
    let mut object = Map::new();
    object.insert("html_attributions".into(), Value::Array(Vec::new()));
    if let Some(next) = next {
        object.insert("next_page_token".into(), Value::from(next));
    }
    object.insert("results".into(), Value::Array(results));
    object.insert("status".into(), Value::from("OK"));
    Reply::json(200, to_google_json(&Value::Object(object)))
}

/// The decoded query parameters, in order.
struct Params<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Params<'a> {
    fn parse(query: &'a str) -> Params<'a> {
        Params(form_urlencoded::parse(query.as_bytes()).collect())
    }

    /// The first value of `name`.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_ref())
    }

    /// The first value of `name`, if not empty.
    fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|value| !value.is_empty())
    }
}

/// A validated first-page search.
#[derive(Debug, Clone, PartialEq)]
struct Search {
    lat: f64,
    lng: f64,
    radius_m: f64,
    /// The one type searched for.
    place_type: Option<String>,
    /// `keyword` and `name`, lowercased; a place's name must contain each.
    words: Vec<String>,
    /// `opennow` was asked for.
    open_now: bool,
}

impl Search {
    /// The search a first-page request asks for, or `Err` for
    /// `INVALID_REQUEST`.
    fn from_params(params: &Params<'_>) -> Result<Search, ()> {
        let (lat, lng) = parse_location(params.get("location").ok_or(())?)?;
        let place_type = params
            .non_empty("type")
            .filter(|t| !t.contains(','))
            .and_then(|t| t.split('|').next())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let words: Vec<String> = ["keyword", "name"]
            .iter()
            .filter_map(|name| params.non_empty(name))
            .map(str::to_lowercase)
            .collect();
        let radius = params.get("radius");
        let radius_m = match params.get("rankby") {
            None | Some("prominence") => parse_radius(radius.ok_or(())?)?,
            Some("distance") if radius.is_none() => {
                if place_type.is_none() && words.is_empty() {
                    return Err(());
                }
                MAX_RADIUS_M
            }
            Some(_) => return Err(()),
        };
        let open_now = params
            .get("opennow")
            .is_some_and(|v| v != "false" && v != "0");
        Ok(Search {
            lat,
            lng,
            radius_m,
            place_type,
            words,
            open_now,
        })
    }

    fn keeps(&self, place: &Place) -> bool {
        if self.open_now {
            return false;
        }
        if let Some(wanted) = &self.place_type
            && !search::has_type(wanted)
        {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        let name = place.name().to_lowercase();
        self.words.iter().all(|word| name.contains(word.as_str()))
    }
}

/// `lat,lng` (spaces around either allowed), both finite and in range.
fn parse_location(text: &str) -> Result<(f64, f64), ()> {
    let (lat, lng) = text.split_once(',').ok_or(())?;
    let lat: f64 = lat.trim().parse().map_err(|_| ())?;
    let lng: f64 = lng.trim().parse().map_err(|_| ())?;
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng) {
        Ok((lat, lng))
    } else {
        Err(())
    }
}

/// A finite number of metres >= 0, clamped to 50,000.
fn parse_radius(text: &str) -> Result<f64, ()> {
    let radius: f64 = text.trim().parse().map_err(|_| ())?;
    if radius.is_finite() && radius >= 0.0 {
        Ok(radius.min(MAX_RADIUS_M))
    } else {
        Err(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::Pages;
    use herd::places::OfflineIndex;
    use std::time::Duration;

    const UCLA: &str = "location=34.068930,-118.445127";

    fn context(keys: &[&str]) -> Context {
        Context {
            keys: keys.iter().map(|k| (*k).to_owned()).collect(),
            index: OfflineIndex::shared().unwrap(),
            pages: Pages::new(Duration::from_millis(100), 1),
        }
    }

    fn ask(context: &Context, query: &str) -> Value {
        let (reply, _) = answer(context, Some(query), Instant::now());
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, "application/json; charset=UTF-8");
        serde_json::from_slice(&reply.body).unwrap()
    }

    fn status(context: &Context, query: &str) -> String {
        ask(context, query)["status"].as_str().unwrap().to_owned()
    }

    fn names(answer: &Value) -> Vec<String> {
        let results = answer["results"].as_array().unwrap();
        results
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn key_rules_come_first() {
        let open = context(&[]);
        let missing = ask(&open, "location=oops");
        assert_eq!(missing["status"], "REQUEST_DENIED");
        assert_eq!(missing["error_message"], MISSING_KEY);
        assert_eq!(
            status(&open, "key=&location=0,0&radius=1"),
            "REQUEST_DENIED"
        );
        assert_eq!(status(&open, "key=x&location=0,0&radius=1"), "ZERO_RESULTS");
        let closed = context(&["good"]);
        let bad = ask(&closed, &format!("{UCLA}&radius=10&key=bad"));
        assert_eq!(bad["error_message"], INVALID_KEY);
        assert_eq!(
            status(&closed, &format!("{UCLA}&radius=10000&key=good")),
            "OK"
        );
    }

    #[test]
    fn invalid_requests_have_no_message() {
        let context = context(&[]);
        for query in [
            "key=k",
            "key=k&radius=100",
            "key=k&location=34.1&radius=100",
            "key=k&location=a,b&radius=100",
            "key=k&location=90.0001,0&radius=100",
            "key=k&location=0,-180.5&radius=100",
            "key=k&location=0,0",
            "key=k&location=0,0&radius=",
            "key=k&location=0,0&radius=-1",
            "key=k&location=0,0&radius=inf",
            "key=k&location=0,0&radius=ten",
            "key=k&location=0,0&rankby=distance",
            "key=k&location=0,0&rankby=distance&radius=100&keyword=a",
            "key=k&location=0,0&rankby=distance&type=a,b",
            "key=k&location=0,0&rankby=popularity&radius=100",
            "key=k&pagetoken=nope&location=0,0&radius=100",
        ] {
            let answer = ask(&context, query);
            let expected = r#"{"html_attributions":[],"results":[],"status":"INVALID_REQUEST"}"#;
            assert_eq!(answer.to_string(), expected, "{query}");
        }
    }

    #[test]
    fn exact_layout_of_an_error() {
        let (reply, reusable) = answer(&context(&[]), Some("key=k"), Instant::now());
        assert!(reusable);
        let text = String::from_utf8(reply.body.to_vec()).unwrap();
        assert_eq!(
            text,
            "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"INVALID_REQUEST\"\n}"
        );
    }

    #[test]
    fn parameters_in_any_order_junk_tolerated() {
        let context = context(&[]);
        let a = ask(&context, &format!("{UCLA}&radius=3000&key=k"));
        let b = ask(
            &context,
            &format!("minprice=None&key=k&maxprice=None&radius=3000&foo=bar&{UCLA}&language=fr"),
        );
        assert_eq!(a["status"], "OK");
        assert_eq!(names(&a), names(&b));
        let spaced = ask(
            &context,
            "key=k&location=34.068930%2C%20-118.445127&radius=3000",
        );
        assert_eq!(names(&a), names(&spaced));
    }

    #[test]
    fn radius_is_clamped_to_50_km() {
        let context = context(&[]);
        let at_50 = ask(&context, &format!("{UCLA}&radius=50000&key=k"));
        let at_90 = ask(&context, &format!("{UCLA}&radius=90000&key=k"));
        assert_eq!(names(&at_50), names(&at_90));
        assert!(at_50["next_page_token"].is_string());
    }

    #[test]
    fn filters() {
        let context = context(&[]);
        let all = names(&ask(&context, &format!("{UCLA}&radius=50000&key=k")));
        let q = |extra: &str| {
            names(&ask(
                &context,
                &format!("{UCLA}&radius=50000&key=k&{extra}"),
            ))
        };
        assert_eq!(q("type=locality"), all);
        assert_eq!(q("type=political|cafe"), all);
        assert_eq!(q("type=cafe,locality"), all, "a comma list is ignored");
        assert!(q("type=cafe").is_empty());
        assert!(q("type=cafe|locality").is_empty(), "only the first counts");
        assert!(q("opennow=true").is_empty());
        assert_eq!(q("opennow=false"), all);
        let hills = q("keyword=HILLS");
        assert!(!hills.is_empty());
        assert!(hills.iter().all(|n| n.to_lowercase().contains("hills")));
        assert_eq!(q("name=hills"), hills);
        let both = q("keyword=hills&name=beverly");
        assert!(
            both.iter()
                .all(|n| n.contains("Beverly") && n.contains("Hills"))
        );
        assert!(!both.is_empty() && both.len() < hills.len());
    }

    #[test]
    fn rankby_distance_searches_50_km() {
        let context = context(&[]);
        let by_distance = ask(
            &context,
            &format!("{UCLA}&rankby=distance&type=locality&key=k"),
        );
        let by_radius = ask(&context, &format!("{UCLA}&radius=50000&key=k"));
        assert_eq!(names(&by_distance), names(&by_radius));
        let with_keyword = ask(
            &context,
            &format!("{UCLA}&rankby=distance&keyword=west&key=k"),
        );
        assert_eq!(with_keyword["status"], "OK");
    }

    #[test]
    fn paging_twenty_at_a_time_sixty_in_all() {
        let context = context(&[]);
        let t0 = Instant::now();
        let (first, reusable) = answer(&context, Some(&format!("{UCLA}&radius=50000&key=k")), t0);
        assert!(!reusable, "an answer with a token is never reused");
        let first: Value = serde_json::from_slice(&first.body).unwrap();
        assert_eq!(names(&first).len(), 20);
        let token = first["next_page_token"].as_str().unwrap();
        let (early, reusable) = answer(&context, Some(&format!("key=k&pagetoken={token}")), t0);
        assert!(!reusable);
        let early: Value = serde_json::from_slice(&early.body).unwrap();
        assert_eq!(early["status"], "INVALID_REQUEST");
        let t1 = t0 + Duration::from_millis(100);
        // Other parameters are ignored with a token, even nonsense ones.
        let query = format!("key=k&pagetoken={token}&location=x&rankby=y");
        let second: Value =
            serde_json::from_slice(&answer(&context, Some(&query), t1).0.body).unwrap();
        assert_eq!(second["status"], "OK");
        let token = second["next_page_token"].as_str().unwrap();
        let t2 = t1 + Duration::from_millis(100);
        let query = format!("pagetoken={token}&key=k");
        let third: Value =
            serde_json::from_slice(&answer(&context, Some(&query), t2).0.body).unwrap();
        assert!(third.get("next_page_token").is_none());
        let mut all = names(&first);
        all.extend(names(&second));
        all.extend(names(&third));
        assert_eq!(all.len(), 60);
        let index = OfflineIndex::shared().unwrap();
        let expected: Vec<String> = index
            .within(34.068930, -118.445127, 50_000.0, 60)
            .iter()
            .map(|(p, _)| p.name().to_owned())
            .collect();
        assert_eq!(all, expected);
        // The key is still checked with a token.
        let (denied, _) = answer(&context, Some(&format!("pagetoken={token}")), t2);
        let denied: Value = serde_json::from_slice(&denied.body).unwrap();
        assert_eq!(denied["status"], "REQUEST_DENIED");
    }

    #[test]
    fn zero_results_layout() {
        let context = context(&[]);
        let (reply, reusable) = answer(
            &context,
            Some("key=k&location=0,-140&radius=50000"),
            Instant::now(),
        );
        assert!(reusable);
        let text = String::from_utf8(reply.body.to_vec()).unwrap();
        assert_eq!(
            text,
            "{\n   \"html_attributions\" : [],\n   \"results\" : [],\n   \"status\" : \"ZERO_RESULTS\"\n}"
        );
    }

    #[test]
    fn faults_have_their_own_bodies() {
        let oql: Value =
            serde_json::from_slice(&fault_reply(Fault::OverQueryLimit).unwrap().body).unwrap();
        assert_eq!(oql["status"], "OVER_QUERY_LIMIT");
        assert_eq!(oql["error_message"], OVER_QUERY_LIMIT);
        let unknown = fault_reply(Fault::UnknownError).unwrap();
        assert!(
            String::from_utf8(unknown.body.to_vec())
                .unwrap()
                .contains("UNKNOWN_ERROR")
        );
        assert_eq!(fault_reply(Fault::Http500).unwrap().status, 500);
        assert_eq!(fault_reply(Fault::BrokenJson), None);
    }
}
