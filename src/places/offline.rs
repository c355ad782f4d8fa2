//! The `offline` Places provider: answers WHATSAT with no network at all.
//!
//! It exists so that the herd works, and its tests run, without an API key or
//! a connection. Input: `data/places.tsv.gz` (GeoNames populated places with
//! population >= 1000, CC-BY 4.0, made by `data/make_places.py`; see
//! `data/README.md`), embedded in the binary and loaded once per process.
//! Output: a legacy Nearby Search object for `answer_json` in `places/answer.rs`.
//!
//! The radius search below is specified exactly, because the Python and Node
//! builds re-implement it and must give the same answers:
//!
//! * Distance: haversine on a sphere of radius [`EARTH_RADIUS_M`], see
//!   [`haversine_m`]. A place is in range when its distance is `<= radius`.
//! * Grid: cells of 1 x 1 degree keyed by `(floor(lat), floor(lng))`, rows
//!   clamped to [-90, 89], columns wrapped into [-180, 179]; see [`cells_near`]
//!   for which cells a query visits.
//! * Order: nearest first; equal distances keep data-file row order.

use std::io::{BufRead, BufReader};
use std::sync::OnceLock;

use flate2::read::GzDecoder;
use serde_json::{Number, Value, json};

use super::provider::{NearbyQuery, Places, PlacesError};

/// Mean Earth radius in metres (IUGG), used for every distance and bound.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Results in one page of a legacy Nearby Search answer.
const GOOGLE_PAGE: usize = 20;

/// The data set, embedded so that the binary runs from any directory.
static EMBEDDED: &[u8] = include_bytes!("../../data/places.tsv.gz");

/// The header line the data file must start with.
const HEADER: &str = "place_id\tlat\tlng\tname\tadmin1\tadmin2\tcc";

/// Grid size: rows -90..=89, columns -180..=179.
const ROWS: i32 = 180;
const COLS: i32 = 360;

/// One populated place: its data-file line, kept whole (one allocation, to
/// save memory), where each field starts, and its coordinates as numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    line: Box<str>,
    /// Field `i` is `line[starts[i]..starts[i + 1] - 1]`; `starts[7]` is `len + 1`.
    starts: [u16; 8],
    lat: f64,
    lng: f64,
}

impl Place {
    /// Field `i` of the line (0 place_id, 1 lat, 2 lng, 3 name, 4 admin1, 5 admin2, 6 cc).
    fn field(&self, i: usize) -> &str {
        &self.line[usize::from(self.starts[i])..usize::from(self.starts[i + 1]) - 1]
    }

    pub fn place_id(&self) -> &str {
        self.field(0)
    }
    /// Latitude exactly as written in the data file.
    pub fn lat_text(&self) -> &str {
        self.field(1)
    }
    /// Longitude exactly as written in the data file.
    pub fn lng_text(&self) -> &str {
        self.field(2)
    }
    pub fn name(&self) -> &str {
        self.field(3)
    }
    pub fn admin1(&self) -> &str {
        self.field(4)
    }
    pub fn admin2(&self) -> &str {
        self.field(5)
    }
    pub fn cc(&self) -> &str {
        self.field(6)
    }
    pub fn lat(&self) -> f64 {
        self.lat
    }
    pub fn lng(&self) -> f64 {
        self.lng
    }

    /// admin2, admin1 and cc, most specific first, empty ones skipped,
    /// joined with ", " (e.g. "Los Angeles County, California, US").
    pub fn vicinity(&self) -> String {
        let parts = [self.admin2(), self.admin1(), self.cc()];
        let parts: Vec<&str> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        parts.join(", ")
    }
}

/// All places plus a 1-degree grid over them for radius search.
#[derive(Debug)]
pub struct OfflineIndex {
    places: Vec<Place>,
    /// Row numbers of the places in each cell, ascending; see [`cell_slot`].
    cells: Vec<Vec<u32>>,
}

impl OfflineIndex {
    /// The index of the embedded data set, loaded on first use and shared by
    /// the whole process. A failed load is remembered and reported, never panics.
    pub fn shared() -> Result<&'static OfflineIndex, String> {
        static SHARED: OnceLock<Result<OfflineIndex, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| OfflineIndex::from_tsv_gz(EMBEDDED))
            .as_ref()
            .map_err(String::clone)
    }

    /// Reads a gzip'd data file (header line, then one TAB-separated place a
    /// line) and builds the grid. Errors name the line and what is wrong.
    pub fn from_tsv_gz(bytes: &[u8]) -> Result<OfflineIndex, String> {
        let places = read_places(bytes)?;
        let cells = build_grid(&places)?;
        Ok(OfflineIndex { places, cells })
    }

    /// Number of places.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }

    /// Every place, in data-file order.
    pub fn places(&self) -> &[Place] {
        &self.places
    }

    /// The places within `radius_m` metres of (lat, lng) with their distances,
    /// nearest first (ties in row order), at most `limit` of them. A NaN or
    /// negative radius or a non-finite position finds nothing.
    pub fn within(&self, lat: f64, lng: f64, radius_m: f64, limit: usize) -> Vec<(&Place, f64)> {
        if !(radius_m >= 0.0 && lat.is_finite() && lng.is_finite()) {
            return Vec::new();
        }
        let mut found: Vec<(u32, f64)> = Vec::new();
        for (row, col) in cells_near(lat, lng, radius_m) {
            for &i in &self.cells[cell_slot(row, col)] {
                let place = &self.places[i as usize];
                let distance = haversine_m(lat, lng, place.lat, place.lng);
                if distance <= radius_m {
                    found.push((i, distance));
                }
            }
        }
        found.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        found.truncate(limit);
        found
            .into_iter()
            .map(|(i, d)| (&self.places[i as usize], d))
            .collect()
    }
}

/// The places of a gzip'd data file, read a line at a time into one reused
/// buffer, so that the unpacked text (10 MB) is never in memory all at once.
fn read_places(bytes: &[u8]) -> Result<Vec<Place>, String> {
    let mut reader = BufReader::with_capacity(1 << 16, GzDecoder::new(bytes));
    let (mut line, mut places) = (String::new(), Vec::new());
    for number in 1usize.. {
        let at = |e: String| format!("places data: line {number}: {e}");
        line.clear();
        let read = reader.read_line(&mut line);
        let read = read.map_err(|e| at(format!("cannot gunzip as UTF-8 text: {e}")))?;
        let text = line.strip_suffix('\n').unwrap_or(&line);
        if number == 1 && text != HEADER {
            return Err(at(format!("bad header {text:?}")));
        } else if read == 0 {
            break;
        } else if number > 1 {
            places.push(parse_place(text).map_err(at)?);
        }
    }
    Ok(places)
}

/// For each cell of the grid, the row numbers of its places, ascending.
fn build_grid(places: &[Place]) -> Result<Vec<Vec<u32>>, String> {
    let mut cells = vec![Vec::new(); (ROWS * COLS) as usize];
    for (row, place) in places.iter().enumerate() {
        let row = u32::try_from(row).map_err(|_| "places data: too many rows".to_owned())?;
        cells[cell_slot(cell_of(place.lat), wrap_col(place.lng.floor()))].push(row);
    }
    Ok(cells)
}

/// Parses one data line; lat/lng must be plain decimals (`-?digits[.digits]`)
/// in range, so that their text is valid JSON as it stands.
fn parse_place(line: &str) -> Result<Place, String> {
    let too_long = |_| "line too long".to_owned();
    let mut starts = [0u16; 8];
    let mut count = 1;
    for (at, _) in line.match_indices('\t').chain([(line.len(), "")]) {
        if let Some(start) = starts.get_mut(count) {
            *start = u16::try_from(at + 1).map_err(too_long)?;
        }
        count += 1;
    }
    if count != 8 {
        return Err(format!("{} fields, expected 7", count - 1));
    }
    let mut place = Place {
        line: line.into(),
        starts,
        lat: 0.0,
        lng: 0.0,
    };
    if place.place_id().is_empty() {
        return Err("empty place_id".into());
    }
    place.lat = parse_degrees(place.lat_text(), 90.0).map_err(|e| format!("lat {e}"))?;
    place.lng = parse_degrees(place.lng_text(), 180.0).map_err(|e| format!("lng {e}"))?;
    Ok(place)
}

/// A plain decimal within [-max, max].
fn parse_degrees(text: &str, max: f64) -> Result<f64, String> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match text.parse::<f64>() {
        Ok(value) if plain(int) && plain(frac) && value.abs() <= max => Ok(value),
        _ => Err(format!(
            "{text:?} is not a plain decimal in [-{max}, {max}]"
        )),
    }
}

/// Great-circle distance in metres from point 1 (the query) to point 2 (the
/// place), on a sphere of radius R = [`EARTH_RADIUS_M`]; radians(x) = x * (pi / 180):
/// `a = sin(radians(lat2 - lat1) / 2)^2
///    + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lng2 - lng1) / 2)^2`,
/// `d = 2 * R * asin(min(1, sqrt(a)))` (squares as `s * s`).
pub fn haversine_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let s_lat = ((lat2 - lat1).to_radians() / 2.0).sin();
    let s_lng = ((lng2 - lng1).to_radians() / 2.0).sin();
    let a = s_lat * s_lat + lat1.to_radians().cos() * lat2.to_radians().cos() * s_lng * s_lng;
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

/// The cells (row, col) a query visits; each cell appears once.
///
/// `dlat = degrees(radius_m / R)`; rows run from `floor(lat - dlat)` to
/// `floor(lat + dlat)`, clamped to [-90, 89]. If the rows reach a pole (row
/// -90 or 89), every column is visited. Otherwise `dlng = dlat / cos(radians(m))`
/// where `m = max(|first row|, |last row + 1|)` is the largest |lat| the rows
/// cover; if `dlng >= 180` every column is visited, else columns
/// `floor(lng - dlng)` to `floor(lng + dlng)`, each wrapped into [-180, 179]
/// (modulo 360), and every column if that is 360 or more of them.
pub fn cells_near(lat: f64, lng: f64, radius_m: f64) -> Vec<(i32, i32)> {
    let dlat = (radius_m / EARTH_RADIUS_M).to_degrees();
    let first = (lat - dlat).floor().max(-90.0) as i32;
    let last = (lat + dlat).floor().min(89.0) as i32;
    let cols = columns_near(lng, dlat, first, last);
    (first..=last)
        .flat_map(|row| cols.iter().map(move |&col| (row, col)))
        .collect()
}

/// The columns visited for rows `first..=last`, as [`cells_near`] describes.
fn columns_near(lng: f64, dlat: f64, first: i32, last: i32) -> Vec<i32> {
    if first == -90 || last == 89 {
        return (-180..180).collect();
    }
    let widest = f64::from(first.abs().max((last + 1).abs()));
    let dlng = dlat / widest.to_radians().cos();
    let (lo, hi) = ((lng - dlng).floor(), (lng + dlng).floor());
    if dlng >= 180.0 || hi - lo + 1.0 >= 360.0 {
        return (-180..180).collect();
    }
    (lo as i32..=hi as i32)
        .map(|c| wrap_col(f64::from(c)))
        .collect()
}

/// The grid row of a latitude: floor(lat), clamped to [-90, 89].
fn cell_of(lat: f64) -> i32 {
    lat.floor().clamp(-90.0, 89.0) as i32
}

/// A whole-degree column wrapped into [-180, 179].
fn wrap_col(col: f64) -> i32 {
    ((col + 180.0).rem_euclid(360.0) - 180.0) as i32
}

/// Position of cell (row, col) in `OfflineIndex::cells`.
fn cell_slot(row: i32, col: i32) -> usize {
    ((row + 90) * COLS + (col + 180)) as usize
}

/// The offline provider: the shared index behind the [`Places`] interface.
#[derive(Debug, Clone, Copy)]
pub struct Offline {
    index: &'static OfflineIndex,
}

impl Offline {
    /// A provider over the embedded data set (loaded on first use).
    pub fn new() -> Result<Offline, String> {
        Ok(Offline {
            index: OfflineIndex::shared()?,
        })
    }
}

impl Places for Offline {
    /// One page (at most 20) of the places in range, nearest first, as a
    /// legacy Nearby Search object; `ZERO_RESULTS` when there are none.
    fn nearby(&self, query: &NearbyQuery) -> Result<Value, PlacesError> {
        let &NearbyQuery {
            lat, lng, radius_m, ..
        } = query;
        let found = self.index.within(lat, lng, radius_m, GOOGLE_PAGE);
        let results: Result<Vec<Value>, _> = found.iter().map(|(p, _)| legacy_result(p)).collect();
        let results = results?;
        let status = if found.is_empty() {
            "ZERO_RESULTS"
        } else {
            "OK"
        };
        Ok(json!({"html_attributions": [], "results": results, "status": status}))
    }
}

/// One legacy Nearby Search result object for `place`, exactly as
/// [`Offline`] puts it in `results` (keys in Google's order; lat/lng keep the
/// file's text). Public so that the local Places stand-in serves the same
/// objects.
pub fn legacy_result(place: &Place) -> Result<Value, PlacesError> {
    let (lat, lng) = (
        json_number(place.lat_text())?,
        json_number(place.lng_text())?,
    );
    Ok(json!({
        "geometry": {"location": {"lat": lat, "lng": lng}},
        "name": place.name(),
        "place_id": place.place_id(),
        "types": ["locality", "political"],
        "vicinity": place.vicinity(),
    }))
}

/// The JSON number whose text is `text`, exactly (serde_json's
/// `arbitrary_precision` keeps it); the loader has checked it is a plain decimal.
fn json_number(text: &str) -> Result<Number, PlacesError> {
    serde_json::from_str(text).map_err(|e| {
        PlacesError::new(
            "UNKNOWN_ERROR",
            format!("offline data: bad number {text:?}: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Rows in data/places.tsv.gz (see data/README.md).
    const ROWS_SHIPPED: usize = 144_524;
    const UCLA: (f64, f64) = (34.068930, -118.445127);

    fn index() -> &'static OfflineIndex {
        OfflineIndex::shared().unwrap()
    }

    fn query(lat: f64, lng: f64, radius_m: f64) -> NearbyQuery {
        let radius_m_text = radius_m.to_string();
        NearbyQuery {
            lat,
            lng,
            radius_m_text,
            radius_m,
            bound: 20,
        }
    }

    fn gz(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    fn names(lat: f64, lng: f64, radius_m: f64, limit: usize) -> Vec<&'static str> {
        index()
            .within(lat, lng, radius_m, limit)
            .iter()
            .map(|(p, _)| p.name())
            .collect()
    }

    /// The grid's answer equals the reference: every place, scanned in row
    /// order, kept if `<= radius`, sorted by distance then row.
    fn assert_matches_linear_scan(lat: f64, lng: f64, radius_m: f64) {
        let grid = index().within(lat, lng, radius_m, usize::MAX);
        let mut all: Vec<(usize, f64)> = (index().places().iter().enumerate())
            .map(|(i, p)| (i, haversine_m(lat, lng, p.lat(), p.lng())))
            .filter(|&(_, d)| d <= radius_m)
            .collect();
        all.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let scan: Vec<_> = all
            .iter()
            .map(|&(i, _)| index().places()[i].place_id())
            .collect();
        let grid: Vec<_> = grid.iter().map(|(p, _)| p.place_id()).collect();
        assert_eq!(grid, scan, "query {lat} {lng} {radius_m}");
    }

    #[test]
    fn shipped_data_loads() {
        assert_eq!(index().len(), ROWS_SHIPPED);
        let first = &index().places()[0];
        let texts = (
            first.name(),
            first.lat_text(),
            first.lng_text(),
            first.vicinity(),
        );
        assert_eq!(
            texts,
            ("El Tarter", "42.57952", "1.65362", "Canillo, AD".into())
        );
        let ids: std::collections::HashSet<_> =
            index().places().iter().map(Place::place_id).collect();
        assert_eq!(ids.len(), ROWS_SHIPPED, "place_id is unique");
        assert!(Offline::new().is_ok());
    }

    #[test]
    fn ucla_neighbours_nearest_first() {
        let found = index().within(UCLA.0, UCLA.1, 10_000.0, 20);
        // GeoNames calls UCLA's neighbourhood "Westwood, Los Angeles".
        let first = names(UCLA.0, UCLA.1, 10_000.0, 3);
        assert_eq!(
            first,
            ["Westwood, Los Angeles", "Century City", "Beverly Hills"]
        );
        assert!(found.windows(2).all(|w| w[0].1 <= w[1].1));
        assert!(found.iter().all(|(_, d)| *d <= 10_000.0));
        assert_eq!(found[0].0.vicinity(), "Los Angeles County, California, US");
    }

    #[test]
    fn middle_of_the_pacific_is_zero_results() {
        let answer = Offline::new()
            .unwrap()
            .nearby(&query(0.0, -140.0, 50_000.0))
            .unwrap();
        let expected = r#"{"html_attributions":[],"results":[],"status":"ZERO_RESULTS"}"#;
        assert_eq!(answer.to_string(), expected);
    }

    #[test]
    fn search_crosses_the_antimeridian() {
        assert!(names(66.0, 179.8, 100_000.0, 20).contains(&"Egvekinot")); // lng -179.12
        assert!(names(-18.0, -179.9, 200_000.0, 20).contains(&"Levuka")); // lng 179.32
        for (lat, lng) in [
            (66.0, 179.8),
            (-18.0, -179.9),
            (-16.0, 180.0),
            (-16.0, -180.0),
        ] {
            assert_matches_linear_scan(lat, lng, 500_000.0);
        }
    }

    #[test]
    fn search_near_the_poles() {
        assert!(names(90.0, 0.0, 1_400_000.0, 9).contains(&"Longyearbyen"));
        assert!(names(-90.0, 0.0, 1_000_000.0, 9).is_empty());
        assert!(!names(-90.0, 0.0, 1_400_000.0, 9).is_empty());
        for (lat, lng, radius_m) in [(90.0, 0.0, 1.4e6), (-90.0, 0.0, 1.4e6), (78.5, 15.0, 2e5)] {
            assert_matches_linear_scan(lat, lng, radius_m);
        }
    }

    #[test]
    fn grid_equals_linear_scan() {
        let mut seed: u64 = 0x5eed;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for i in 0..300 {
            // Half near a real place (so that most answers are not empty), half anywhere.
            let (lat, lng) = if i % 2 == 0 {
                let place = &index().places()[(next() * ROWS_SHIPPED as f64) as usize];
                (
                    (place.lat() + next() - 0.5).clamp(-90.0, 90.0),
                    place.lng() + next() - 0.5,
                )
            } else {
                (next() * 180.0 - 90.0, next() * 360.0 - 180.0)
            };
            let radius_m = if i % 10 == 0 {
                next() * 3e6
            } else {
                next() * 6e4
            };
            assert_matches_linear_scan(lat, lng.clamp(-180.0, 180.0), radius_m);
        }
    }

    #[test]
    fn limit_is_honoured() {
        assert_eq!(index().within(UCLA.0, UCLA.1, 50_000.0, 7).len(), 7);
        assert!(index().within(UCLA.0, UCLA.1, 50_000.0, 0).is_empty());
        let answer = Offline::new()
            .unwrap()
            .nearby(&query(UCLA.0, UCLA.1, 50_000.0))
            .unwrap();
        assert_eq!(answer["results"].as_array().unwrap().len(), 20);
    }

    #[test]
    fn json_keeps_the_exact_number_text() {
        let tsv = format!("{HEADER}\nid-1\t34.10000\t-118.0\tZero Town\t\t\tUS\n");
        let index = Box::leak(Box::new(OfflineIndex::from_tsv_gz(&gz(&tsv)).unwrap()));
        let answer = Offline { index }.nearby(&query(34.1, -118.0, 1.0)).unwrap();
        let expected = concat!(
            r#"{"html_attributions":[],"results":[{"geometry":{"location":"#,
            r#"{"lat":34.10000,"lng":-118.0}},"name":"Zero Town","place_id":"id-1","#,
            r#""types":["locality","political"],"vicinity":"US"}],"status":"OK"}"#
        );
        assert_eq!(answer.to_string(), expected);
        for place in self::index().places() {
            for text in [place.lat_text(), place.lng_text()] {
                assert_eq!(
                    serde_json::from_str::<Number>(text).unwrap().to_string(),
                    text
                );
            }
        }
    }

    #[test]
    fn malformed_rows_are_reported_by_line() {
        let error = |body: &str| OfflineIndex::from_tsv_gz(&gz(body)).unwrap_err();
        let ok_row = "ok\t1\t2\tA\t\t\tUS";
        for (row, wanted) in [
            ("x\t1\t2\tA\t\tUS", "line 3: 6 fields, expected 7"),
            (
                "x\t91\t2\tA\t\t\tUS",
                "line 3: lat \"91\" is not a plain decimal in [-90, 90]",
            ),
            ("x\t1\t+2\tA\t\t\tUS", "line 3: lng \"+2\""),
            ("x\t1\t2.\tA\t\t\tUS", "line 3: lng \"2.\""),
            ("\t1\t2\tA\t\t\tUS", "line 3: empty place_id"),
        ] {
            let message = error(&format!("{HEADER}\n{ok_row}\n{row}\n"));
            assert!(message.contains(wanted), "{row:?}: {message}");
        }
        assert!(error(&format!("{HEADER}\n{ok_row}\n\n{ok_row}\n")).contains("line 3: 1 fields"));
        assert!(error("lat\tlng\n").contains("line 1: bad header"));
        assert!(error("").contains("line 1: bad header"));
        assert!(
            OfflineIndex::from_tsv_gz(b"not gzip")
                .unwrap_err()
                .contains("gunzip")
        );
    }

    #[test]
    fn odd_queries_do_not_panic() {
        assert!(index().within(f64::NAN, 0.0, 1000.0, 20).is_empty());
        assert!(index().within(0.0, 0.0, -1.0, 20).is_empty());
        let everything = index().within(0.0, 0.0, f64::INFINITY, usize::MAX);
        assert_eq!(everything.len(), ROWS_SHIPPED);
        assert_eq!(cells_near(89.5, 10.0, 0.0).len(), 360);
        // 200 km is 1.80 degrees of latitude, 1.80 / cos(3 degrees) = 1.80 of longitude.
        let cols = [177, 178, 179, -180, -179];
        let expected: Vec<_> = (-2..=2)
            .flat_map(|row| cols.map(|col| (row, col)))
            .collect();
        assert_eq!(cells_near(0.5, 179.5, 200_000.0), expected);
    }
}
