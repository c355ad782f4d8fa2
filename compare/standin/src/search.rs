//! The one search behind both endpoints, so that the legacy and the New
//! answers hold the same places in the same order, and the offline
//! provider's too.
//!
//! Input: a circle (already validated), a result limit and a filter over
//! places. Output: the matching places of `OfflineIndex::within`, nearest
//! first (ties in data-file order), at most `limit`. The offline data holds
//! towns only, so every place has the types [`PLACE_TYPES`] and the primary
//! type [`PRIMARY_TYPE`].

use herd::places::{OfflineIndex, Place};

/// The largest radius either API accepts or searches, in metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;

/// The types of every place in the data set.
pub const PLACE_TYPES: [&str; 2] = ["locality", "political"];

/// The primary type (New API) of every place in the data set.
pub const PRIMARY_TYPE: &str = "locality";

/// The places within `radius_m` of (lat, lng) that `keep` accepts, nearest
/// first, at most `limit`.
pub fn nearby(
    index: &'static OfflineIndex,
    lat: f64,
    lng: f64,
    radius_m: f64,
    limit: usize,
    keep: impl Fn(&Place) -> bool,
) -> Vec<&'static Place> {
    index
        .within(lat, lng, radius_m, usize::MAX)
        .into_iter()
        .map(|(place, _)| place)
        .filter(|place| keep(place))
        .take(limit)
        .collect()
}

/// Whether a place of the data set has type `wanted`.
pub fn has_type(wanted: &str) -> bool {
    PLACE_TYPES.contains(&wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_applies_before_the_limit() {
        let index = OfflineIndex::shared().unwrap();
        let all = nearby(index, 34.06893, -118.445127, 50_000.0, usize::MAX, |_| true);
        assert!(all.len() > 40, "{}", all.len());
        let with_a: Vec<_> = all.iter().filter(|p| p.name().contains('a')).collect();
        let got = nearby(index, 34.06893, -118.445127, 50_000.0, 5, |p| {
            p.name().contains('a')
        });
        assert_eq!(got.len(), 5);
        for (got, want) in got.iter().zip(with_a) {
            assert_eq!(got.place_id(), want.place_id());
        }
        assert!(has_type("locality") && has_type("political") && !has_type("cafe"));
    }
}
