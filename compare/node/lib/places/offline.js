'use strict';
// The `offline` Places provider: answers WHATSAT with no network at all.
//
// Input: data/places.tsv.gz at the repository root (the very file the Rust
// build embeds: GeoNames populated places, CC-BY 4.0), gunzipped with zlib
// and loaded once per process. Output: a legacy Nearby Search object for
// `whatsatJson` in places/index.js.
//
// The radius search is EXACTLY the one specified in src/places/offline.rs:
// - distance: haversine on a sphere of R = 6371008.8 m, radians(x) =
//   x * (PI / 180), squares as s * s, d = 2 R asin(min(1, sqrt(a)));
//   a place is in range when d <= radius;
// - grid: 1 x 1 degree cells keyed (floor(lat), floor(lng)), rows clamped
//   to [-90, 89], columns wrapped into [-180, 179]; the cells a query
//   visits are those of `cellsNear`;
// - order: nearest first, equal distances in data-file row order; at most
//   20 (one Google page).

const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const { JsonNumber, obj } = require('./json-format');

const EARTH_RADIUS_M = 6371008.8;
const GOOGLE_PAGE = 20;
const HEADER = 'place_id\tlat\tlng\tname\tadmin1\tadmin2\tcc';
const ROWS = 180;
const COLS = 360;
const DEFAULT_DATA = path.join(__dirname, '..', '..', '..', '..', 'data', 'places.tsv.gz');

const RAD = Math.PI / 180;
const DEG = 180 / Math.PI;

/** Great-circle distance in metres, exactly as haversine_m in offline.rs. */
function haversineM(lat1, lng1, lat2, lng2) {
  const sLat = Math.sin(((lat2 - lat1) * RAD) / 2);
  const sLng = Math.sin(((lng2 - lng1) * RAD) / 2);
  const a = sLat * sLat + Math.cos(lat1 * RAD) * Math.cos(lat2 * RAD) * sLng * sLng;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(Math.sqrt(a), 1));
}

/** A whole-degree column wrapped into [-180, 179] (rem_euclid). */
function wrapCol(col) {
  const r = (col + 180) % 360;
  return (r < 0 ? r + 360 : r) - 180;
}

/** The grid row of a latitude: floor(lat), clamped to [-90, 89]. */
function cellOf(lat) {
  return Math.min(Math.max(Math.floor(lat), -90), 89);
}

function cellSlot(row, col) {
  return (row + 90) * COLS + (col + 180);
}

/** The columns visited for rows first..=last (see cellsNear). */
function columnsNear(lng, dlat, first, last) {
  const all = () => Array.from({ length: 360 }, (_, k) => k - 180);
  if (first === -90 || last === 89) return all();
  const widest = Math.max(Math.abs(first), Math.abs(last + 1));
  const dlng = dlat / Math.cos(widest * RAD);
  const lo = Math.floor(lng - dlng);
  const hi = Math.floor(lng + dlng);
  if (dlng >= 180 || hi - lo + 1 >= 360) return all();
  const cols = [];
  for (let c = lo; c <= hi; c++) cols.push(wrapCol(c));
  return cols;
}

/**
 * The cells [row, col] a query visits, as cells_near in offline.rs:
 * dlat = degrees(radius / R); rows floor(lat - dlat)..floor(lat + dlat)
 * clamped to [-90, 89]; every column if the rows reach a pole, else
 * dlng = dlat / cos(radians(max(|first|, |last + 1|))) and the columns
 * floor(lng - dlng)..floor(lng + dlng) wrapped (all if dlng >= 180 or 360+).
 */
function cellsNear(lat, lng, radiusM) {
  const dlat = (radiusM / EARTH_RADIUS_M) * DEG;
  const first = Math.max(Math.floor(lat - dlat), -90);
  const last = Math.min(Math.floor(lat + dlat), 89);
  const cols = columnsNear(lng, dlat, first, last);
  const cells = [];
  for (let row = first; row <= last; row++) for (const col of cols) cells.push([row, col]);
  return cells;
}

/** A plain decimal (`-?digits[.digits]`) within [-max, max], or an error. */
function parseDegrees(text, max) {
  if (!/^-?[0-9]+(\.[0-9]+)?$/.test(text) || !(Math.abs(Number(text)) <= max)) {
    throw new Error(`${JSON.stringify(text)} is not a plain decimal in [-${max}, ${max}]`);
  }
  return Number(text);
}

/** All places plus the 1-degree grid over them. */
class OfflineIndex {
  /**
   * Reads gzip'd TSV bytes (header, then one place a line). To keep memory
   * small, each place stays its data-file line (split into fields only
   * when it is answered) and the coordinates go into two Float64Arrays.
   */
  static fromTsvGz(bytes) {
    const text = zlib.gunzipSync(bytes).toString('utf8');
    const lines = text.split('\n');
    if (lines[0] !== HEADER) {
      throw new Error(`places data: line 1: bad header ${JSON.stringify(lines[0])}`);
    }
    if (lines[lines.length - 1] === '') lines.pop();
    const count = lines.length - 1;
    const rows = new Array(count);
    const lats = new Float64Array(count);
    const lngs = new Float64Array(count);
    for (let n = 1; n < lines.length; n++) {
      const line = lines[n];
      try {
        const f = line.split('\t', 8);
        if (f.length !== 7) throw new Error(`${f.length} fields, expected 7`);
        if (!f[0]) throw new Error('empty place_id');
        try {
          lats[n - 1] = parseDegrees(f[1], 90);
        } catch (e) {
          throw new Error(`lat ${e.message}`);
        }
        try {
          lngs[n - 1] = parseDegrees(f[2], 180);
        } catch (e) {
          throw new Error(`lng ${e.message}`);
        }
      } catch (e) {
        throw new Error(`places data: line ${n + 1}: ${e.message}`);
      }
      rows[n - 1] = line;
    }
    return new OfflineIndex(rows, lats, lngs);
  }

  constructor(rows, lats, lngs) {
    this.rows = rows;
    this.lats = lats;
    this.lngs = lngs;
    const cells = Array.from({ length: ROWS * COLS }, () => []);
    for (let row = 0; row < rows.length; row++) {
      cells[cellSlot(cellOf(lats[row]), wrapCol(Math.floor(lngs[row])))].push(row);
    }
    this.cells = cells.map((c) => Uint32Array.from(c));
  }

  get length() {
    return this.rows.length;
  }

  /** Place `i` (data-file order) as an object of its fields. */
  place(i) {
    const [placeId, latText, lngText, name, admin1, admin2, cc] = this.rows[i].split('\t');
    return { placeId, latText, lngText, name, admin1, admin2, cc, lat: this.lats[i], lng: this.lngs[i] };
  }

  /** Places within radiusM of (lat, lng), nearest first, at most `limit`. */
  within(lat, lng, radiusM, limit) {
    if (!(radiusM >= 0 && Number.isFinite(lat) && Number.isFinite(lng))) return [];
    const found = [];
    for (const [row, col] of cellsNear(lat, lng, radiusM)) {
      for (const i of this.cells[cellSlot(row, col)]) {
        const distance = haversineM(lat, lng, this.lats[i], this.lngs[i]);
        if (distance <= radiusM) found.push([i, distance]);
      }
    }
    found.sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    return found.slice(0, limit).map(([i, d]) => [this.place(i), d]);
  }
}

/** admin2, admin1, cc, empty ones skipped, joined with ", ". */
function vicinity(place) {
  return [place.admin2, place.admin1, place.cc].filter((p) => p !== '').join(', ');
}

/** One legacy result object, keys in Google's order, numbers as in the file. */
function legacyResult(place) {
  return obj([
    ['geometry', obj([['location', obj([['lat', new JsonNumber(place.latText)], ['lng', new JsonNumber(place.lngText)]])]])],
    ['name', place.name],
    ['place_id', place.placeId],
    ['types', ['locality', 'political']],
    ['vicinity', vicinity(place)],
  ]);
}

let shared = null;

/** The index of the shared data file, loaded once per process. */
function sharedIndex(file = DEFAULT_DATA) {
  if (!shared) shared = OfflineIndex.fromTsvGz(fs.readFileSync(file));
  return shared;
}

/** The offline provider. */
class Offline {
  constructor(index = sharedIndex()) {
    this.index = index;
  }

  /** One page (at most 20) of the places in range, as a legacy object. */
  async nearby(query) {
    return this.nearbySync(query);
  }

  nearbySync(query) {
    const found = this.index.within(query.lat, query.lng, query.radiusM, GOOGLE_PAGE);
    return obj([
      ['html_attributions', []],
      ['results', found.map(([place]) => legacyResult(place))],
      ['status', found.length ? 'OK' : 'ZERO_RESULTS'],
    ]);
  }
}

module.exports = {
  EARTH_RADIUS_M,
  DEFAULT_DATA,
  haversineM,
  cellsNear,
  wrapCol,
  OfflineIndex,
  Offline,
  legacyResult,
  sharedIndex,
};
