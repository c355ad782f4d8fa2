//! The response field mask of Nearby Search (New): which Place fields an
//! answer carries.
//!
//! Input: the text of `X-Goog-FieldMask` (or the `fields` / `$fields`
//! parameter): comma-separated paths such as `places.id`,
//! `places.displayName.text`, `places.currentOpeningHours.openNow`; `*`,
//! `places` or `places.*` select everything. Paths start with `places`
//! (or name `routingSummaries`, accepted and never filled); names may be
//! lowerCamelCase or snake_case. Output: a [`FieldMask`] that cuts a
//! rendered place down to the selected fields, or the path Google would
//! refuse.
//!
//! Known paths: every field of `google.maps.places.v1.Place` (googleapis
//! `place.proto`, 2025). Below the fields the stand-in fills
//! (`displayName`, `location`, `viewport`) sub-fields are checked too;
//! below other message fields any sub-path is accepted, since no answer
//! carries them; a sub-path of a scalar field is refused.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// What a path may continue with.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// A scalar or a list of scalars: no sub-path.
    Scalar,
    /// A message whose fields are known.
    Message(&'static [(&'static str, Kind)]),
    /// A message the stand-in never fills: sub-paths are not checked.
    Unchecked,
}

use Kind::{Message, Scalar, Unchecked};

const LAT_LNG: &[(&str, Kind)] = &[("latitude", Scalar), ("longitude", Scalar)];
const LOCALIZED_TEXT: &[(&str, Kind)] = &[("text", Scalar), ("languageCode", Scalar)];
const VIEWPORT: &[(&str, Kind)] = &[("low", Message(LAT_LNG)), ("high", Message(LAT_LNG))];

/// The fields of `Place`, by their JSON names.
const PLACE_FIELDS: &[(&str, Kind)] = &[
    ("name", Scalar),
    ("id", Scalar),
    ("displayName", Message(LOCALIZED_TEXT)),
    ("types", Scalar),
    ("primaryType", Scalar),
    ("primaryTypeDisplayName", Unchecked),
    ("nationalPhoneNumber", Scalar),
    ("internationalPhoneNumber", Scalar),
    ("formattedAddress", Scalar),
    ("shortFormattedAddress", Scalar),
    ("postalAddress", Unchecked),
    ("addressComponents", Unchecked),
    ("plusCode", Unchecked),
    ("location", Message(LAT_LNG)),
    ("viewport", Message(VIEWPORT)),
    ("rating", Scalar),
    ("googleMapsUri", Scalar),
    ("websiteUri", Scalar),
    ("reviews", Unchecked),
    ("regularOpeningHours", Unchecked),
    ("utcOffsetMinutes", Scalar),
    ("timeZone", Unchecked),
    ("photos", Unchecked),
    ("adrFormatAddress", Scalar),
    ("businessStatus", Scalar),
    ("priceLevel", Scalar),
    ("attributions", Unchecked),
    ("userRatingCount", Scalar),
    ("iconMaskBaseUri", Scalar),
    ("iconBackgroundColor", Scalar),
    ("takeout", Scalar),
    ("delivery", Scalar),
    ("dineIn", Scalar),
    ("curbsidePickup", Scalar),
    ("reservable", Scalar),
    ("servesBreakfast", Scalar),
    ("servesLunch", Scalar),
    ("servesDinner", Scalar),
    ("servesBeer", Scalar),
    ("servesWine", Scalar),
    ("servesBrunch", Scalar),
    ("servesVegetarianFood", Scalar),
    ("currentOpeningHours", Unchecked),
    ("currentSecondaryOpeningHours", Unchecked),
    ("regularSecondaryOpeningHours", Unchecked),
    ("editorialSummary", Unchecked),
    ("outdoorSeating", Scalar),
    ("liveMusic", Scalar),
    ("menuForChildren", Scalar),
    ("servesCocktails", Scalar),
    ("servesDessert", Scalar),
    ("servesCoffee", Scalar),
    ("goodForChildren", Scalar),
    ("allowsDogs", Scalar),
    ("restroom", Scalar),
    ("goodForGroups", Scalar),
    ("goodForWatchingSports", Scalar),
    ("paymentOptions", Unchecked),
    ("parkingOptions", Unchecked),
    ("subDestinations", Unchecked),
    ("accessibilityOptions", Unchecked),
    ("fuelOptions", Unchecked),
    ("evChargeOptions", Unchecked),
    ("generativeSummary", Unchecked),
    ("areaSummary", Unchecked),
    ("containingPlaces", Unchecked),
    ("pureServiceAreaBusiness", Scalar),
    ("addressDescriptor", Unchecked),
    ("googleMapsLinks", Unchecked),
    ("priceRange", Unchecked),
];

/// A selection below one field: everything, or some named fields.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    All,
    Fields(BTreeMap<String, Node>),
}

/// A parsed field mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMask {
    /// What of each place is selected; `None`: no `places` at all.
    places: Option<Node>,
}

/// Google's message for a path it does not know.
pub fn unknown_path_message(path: &str) -> String {
    format!("Error expanding 'fields' parameter. Cannot find matching fields for path '{path}'.")
}

impl FieldMask {
    /// Parses a mask. `Ok(None)`: the mask is empty (as good as missing);
    /// `Err(path)`: a path that names no field.
    pub fn parse(text: &str) -> Result<Option<FieldMask>, String> {
        let mut mask = FieldMask { places: None };
        let mut any = false;
        for path in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            mask.add(path).map_err(|()| path.to_owned())?;
        }
        Ok(any.then_some(mask))
    }

    fn add(&mut self, path: &str) -> Result<(), ()> {
        let segments: Vec<String> = path.split('.').map(to_camel).collect();
        match segments.first().map(String::as_str) {
            Some("*") if segments.len() == 1 => {
                self.places = Some(Node::All);
                Ok(())
            }
            Some("routingSummaries") => Ok(()),
            Some("places") => {
                let rest = &segments[1..];
                if rest.is_empty() || rest == ["*"] {
                    self.places = Some(Node::All);
                    return Ok(());
                }
                check(rest, PLACE_FIELDS)?;
                let node = self
                    .places
                    .get_or_insert_with(|| Node::Fields(BTreeMap::new()));
                insert(node, rest);
                Ok(())
            }
            _ => Err(()),
        }
    }

    /// Whether an answer carries `places` at all.
    pub fn wants_places(&self) -> bool {
        self.places.is_some()
    }

    /// `place` (an object with fields in output order) cut to the mask,
    /// order kept.
    pub fn select(&self, place: &Value) -> Value {
        match &self.places {
            Some(node) => select(place, node),
            None => Value::Object(Map::new()),
        }
    }
}

/// Checks `path` (below a message with `fields`): each name exists, and
/// only messages are gone into. A last `*` selects the whole message.
fn check(path: &[String], fields: &[(&str, Kind)]) -> Result<(), ()> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(());
    };
    if first == "*" && rest.is_empty() {
        return Ok(());
    }
    let (_, kind) = fields.iter().find(|(name, _)| name == first).ok_or(())?;
    match (kind, rest.is_empty()) {
        (_, true) | (Unchecked, false) => Ok(()),
        (Message(inner), false) => check(rest, inner),
        (Scalar, false) => Err(()),
    }
}

/// Adds `path` to the selection tree.
fn insert(node: &mut Node, path: &[String]) {
    let Node::Fields(fields) = node else {
        return; // Already everything.
    };
    match path.split_first() {
        None => *node = Node::All,
        Some((first, _)) if first == "*" => *node = Node::All,
        Some((first, rest)) => {
            let child = fields
                .entry(first.clone())
                .or_insert_with(|| Node::Fields(BTreeMap::new()));
            insert(child, rest);
        }
    }
}

/// `value` cut to `node`: objects keep the selected members in their own
/// order, lists are cut element by element.
fn select(value: &Value, node: &Node) -> Value {
    match (value, node) {
        (_, Node::All) => value.clone(),
        (Value::Object(members), Node::Fields(fields)) => Value::Object(
            members
                .iter()
                .filter_map(|(name, member)| {
                    fields.get(name).map(|n| (name.clone(), select(member, n)))
                })
                .collect(),
        ),
        (Value::Array(items), _) => Value::Array(items.iter().map(|i| select(i, node)).collect()),
        (scalar, _) => scalar.clone(),
    }
}

/// `display_name` -> `displayName`; lowerCamelCase names are unchanged.
pub fn to_camel(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut upper = false;
    for ch in segment.chars() {
        if ch == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn place() -> Value {
        json!({
            "name": "places/p1",
            "id": "p1",
            "types": ["locality", "political"],
            "location": {"latitude": 1.5, "longitude": 2.5},
            "viewport": {
                "low": {"latitude": 1.49, "longitude": 2.49},
                "high": {"latitude": 1.51, "longitude": 2.51}
            },
            "displayName": {"text": "Town", "languageCode": "en"},
        })
    }

    fn cut(mask: &str) -> Value {
        FieldMask::parse(mask).unwrap().unwrap().select(&place())
    }

    #[test]
    fn everything() {
        for mask in ["*", "places", "places.*", "places.id,*"] {
            assert_eq!(cut(mask), place(), "{mask}");
        }
    }

    #[test]
    fn top_level_fields_keep_the_place_order() {
        assert_eq!(
            cut("places.displayName,places.id").to_string(),
            r#"{"id":"p1","displayName":{"text":"Town","languageCode":"en"}}"#
        );
        assert_eq!(
            cut(" places.name , places.types ,"),
            json!({"name": "places/p1", "types": ["locality", "political"]})
        );
    }

    #[test]
    fn nested_paths_select_nested_fields() {
        assert_eq!(
            cut("places.displayName.text,places.viewport.low.latitude"),
            json!({"viewport": {"low": {"latitude": 1.49}}, "displayName": {"text": "Town"}})
        );
        assert_eq!(
            cut("places.location.latitude,places.location"),
            json!({"location": {"latitude": 1.5, "longitude": 2.5}})
        );
        assert_eq!(
            cut("places.viewport.*"),
            json!({"viewport": place()["viewport"]})
        );
    }

    #[test]
    fn known_fields_without_data_give_empty_places() {
        assert_eq!(
            cut("places.rating,places.currentOpeningHours.openNow"),
            json!({})
        );
        assert_eq!(
            cut("places.photos.name,places.regular_opening_hours"),
            json!({})
        );
    }

    #[test]
    fn snake_case_names() {
        assert_eq!(
            cut("places.display_name.language_code"),
            json!({"displayName": {"languageCode": "en"}})
        );
    }

    #[test]
    fn unknown_paths_are_refused() {
        for path in [
            "displayName",
            "id",
            "places.foo",
            "places.id.bar",
            "places.displayName.foo",
            "places.location.altitude",
            "places.viewport.low.x",
            "place.id",
            "places..id",
            "**",
        ] {
            let mask = format!("places.id,{path}");
            assert_eq!(FieldMask::parse(&mask), Err(path.to_owned()), "{path}");
        }
        assert_eq!(
            unknown_path_message("places.foo"),
            "Error expanding 'fields' parameter. Cannot find matching fields for path 'places.foo'."
        );
    }

    #[test]
    fn empty_masks_and_routing_summaries() {
        assert_eq!(FieldMask::parse(""), Ok(None));
        assert_eq!(FieldMask::parse(" , "), Ok(None));
        let routing = FieldMask::parse("routingSummaries").unwrap().unwrap();
        assert!(!routing.wants_places());
        assert!(
            FieldMask::parse("places.id")
                .unwrap()
                .unwrap()
                .wants_places()
        );
    }
}
