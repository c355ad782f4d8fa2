'use strict';
// The `google-new` Places provider: Places API (New) Nearby Search
// (POST .../v1/places:searchNearby), its answer mapped onto the legacy
// shape, as src/places/google_new.rs (see that file and the README for the
// field table). Input: a query from whatsatJson plus URL, key and timeout.
// Output: a legacy object built by the pure `toLegacy`, or a PlacesError
// whose message is safe to show a client. The key travels only in the
// X-Goog-Api-Key header; Google's error envelope becomes a legacy status
// and a message with our key cut out.

const { exchange, TransportError, safeWord, rustFloat } = require('./http');
const { parseJson, get, obj, JsonNumber } = require('./json-format');
const { PlacesError } = require('./error');

const NEW_URL = 'https://places.googleapis.com/v1/places:searchNearby';

/** Exactly the ten "Nearby Search Pro" fields that are mapped. */
const FIELD_MASK =
  'places.id,places.displayName,places.location,places.viewport,' +
  'places.types,places.businessStatus,places.shortFormattedAddress,' +
  'places.plusCode,places.iconMaskBaseUri,places.iconBackgroundColor';

/** How much of Google's error message is passed on, in characters. */
const MESSAGE_LIMIT = 1000;

/** A key an HTTP header can carry: non-empty, visible ASCII only. */
function usableKey(key) {
  return key.length > 0 && /^[\x21-\x7e]+$/.test(key);
}

/** The compact JSON request body. */
function requestBody(query) {
  const bad = 'the WHATSAT location or radius is not a number';
  if (!Number.isFinite(query.lat) || !Number.isFinite(query.lng)) throw bad;
  let radius = query.radiusMText;
  if (!/^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/.test(radius)) {
    if (!Number.isFinite(query.radiusM)) throw bad;
    radius = rustFloat(query.radiusM);
  }
  const bound = Math.min(Math.max(query.bound, 1), 20);
  return (
    `{"locationRestriction":{"circle":{"center":{"latitude":${rustFloat(query.lat)},` +
    `"longitude":${rustFloat(query.lng)}},"radius":${radius}}},"maxResultCount":${bound}}`
  );
}

class GoogleNew {
  constructor(url, key, timeoutMs, log = () => {}) {
    this.url = url || NEW_URL;
    Object.defineProperty(this, 'key', { value: key, enumerable: false });
    this.timeoutMs = timeoutMs;
    this.warn = log;
  }

  async nearby(query) {
    if (!usableKey(this.key)) throw this.fail('the API key holds characters an HTTP header cannot carry');
    let body;
    try {
      body = requestBody(query);
    } catch (message) {
      throw this.fail(String(message));
    }
    let answer;
    try {
      answer = await exchange(
        this.url,
        {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            'X-Goog-Api-Key': this.key,
            'X-Goog-FieldMask': FIELD_MASK,
          },
          body,
        },
        this.timeoutMs,
      );
    } catch (error) {
      throw this.fail(error instanceof TransportError ? error.message : 'the request to Places failed');
    }
    if (answer.status !== 200) {
      const error = errorFromAnswer(answer.status, Buffer.isBuffer(answer.body) ? answer.body : Buffer.alloc(0), this.key);
      this.warn(`google-new places: ${error.message}`);
      throw error;
    }
    if (!Buffer.isBuffer(answer.body)) throw this.fail(answer.body.error);
    let value;
    try {
      value = parseJson(answer.body);
    } catch {
      throw this.fail('Places answered with malformed JSON');
    }
    try {
      return toLegacy(value);
    } catch (error) {
      this.warn(`google-new places: ${error.message}`);
      throw error;
    }
  }

  fail(message) {
    this.warn(`google-new places: ${message}`);
    return new PlacesError('UNKNOWN_ERROR', message);
  }
}

/** A non-200 answer as a PlacesError (legacy status, safe message). */
function errorFromAnswer(status, body, key) {
  let parsed = null;
  try {
    parsed = parseJson(body);
  } catch {
    parsed = null;
  }
  const envelope = parsed === null ? null : envelopeOf(parsed);
  if (!envelope) return new PlacesError('UNKNOWN_ERROR', `Places API (New) answered HTTP ${status}`);
  let message = `Places API (New) answered ${status}`;
  // Google's words lose the key before they are filtered or cut: a key cut at
  // the length limit, or stripped of its '-' by safeWord, would no longer
  // match and would be shown in part.
  if (envelope.status !== null) {
    const word = safeWord(redact(envelope.status, key));
    if (word) message += ' ' + word;
  }
  if (envelope.message !== null) message += ': ' + oneLine(redact(envelope.message, key), MESSAGE_LIMIT);
  return new PlacesError(legacyStatus(status, envelope.reason), redact(message, key));
}

function str(value) {
  return typeof value === 'string' ? value : null;
}

function envelopeOf(body) {
  const error = get(body, 'error');
  if (!(error instanceof Map)) return null;
  const status = str(error.get('status'));
  const message = str(error.get('message'));
  if (status === null && message === null) return null;
  let reason = null;
  const details = error.get('details');
  if (Array.isArray(details)) {
    for (const detail of details) {
      const type = str(get(detail, '@type'));
      if (type !== null && type.endsWith('google.rpc.ErrorInfo')) {
        const r = str(get(detail, 'reason'));
        if (r !== null) {
          reason = r;
          break;
        }
      }
    }
  }
  return { status, message, reason };
}

function legacyStatus(httpStatus, reason) {
  if (httpStatus === 400) return reason !== null && reason.startsWith('API_KEY_') ? 'REQUEST_DENIED' : 'INVALID_REQUEST';
  if (httpStatus === 401 || httpStatus === 403) return 'REQUEST_DENIED';
  if (httpStatus === 429) return 'OVER_QUERY_LIMIT';
  return 'UNKNOWN_ERROR';
}

/** Control characters (Cc) as spaces, at most `limit` characters + `...`. */
function oneLine(text, limit) {
  const chars = Array.from(text);
  let out = chars
    .slice(0, limit)
    .map((c) => (/^[\u0000-\u001f\u007f-\u009f]$/.test(c) ? ' ' : c))
    .join('');
  if (chars.length > limit) out += '...';
  return out;
}

function redact(text, key) {
  return key ? text.split(key).join('<redacted>') : text;
}

function malformed(what) {
  return new PlacesError('UNKNOWN_ERROR', `Places API (New) answered with ${what}`);
}

/** A Places API (New) answer as a legacy Nearby Search object (pure). */
function toLegacy(answer) {
  if (!(answer instanceof Map)) throw malformed('JSON that is not an object');
  const raw = answer.get('places');
  let places;
  if (raw === undefined || raw === null) places = [];
  else if (Array.isArray(raw)) places = raw;
  else throw malformed('"places" that is not a list');
  const results = places.map(legacyResult);
  return obj([
    ['html_attributions', []],
    ['results', results],
    ['status', results.length ? 'OK' : 'ZERO_RESULTS'],
  ]);
}

function legacyResult(place) {
  if (!(place instanceof Map)) throw malformed('a place that is not an object');
  const text = (key) => str(place.get(key));
  const id = text('id');
  const out = new Map();
  const put = (key, value) => {
    if (value !== null && value !== undefined) out.set(key, value);
  };
  const business = text('businessStatus');
  put('business_status', business !== 'BUSINESS_STATUS_UNSPECIFIED' ? business : null);
  put('geometry', geometry(place));
  put('icon_background_color', text('iconBackgroundColor'));
  put('icon_mask_base_uri', text('iconMaskBaseUri'));
  put('name', str(get(place.get('displayName'), 'text')));
  put('place_id', id);
  put('plus_code', plusCode(place.get('plusCode')));
  put('reference', id);
  put('scope', 'GOOGLE');
  put('types', types(place.get('types')));
  put('vicinity', text('shortFormattedAddress'));
  return out;
}

function geometry(place) {
  const out = new Map();
  const location = latLng(place.get('location'));
  if (location) out.set('location', location);
  const vp = viewport(place.get('viewport'));
  if (vp) out.set('viewport', vp);
  return out.size ? out : null;
}

function viewport(value) {
  if (value === undefined) return null;
  const northeast = latLng(get(value, 'high'));
  if (!northeast) return null;
  const southwest = latLng(get(value, 'low'));
  if (!southwest) return null;
  return obj([['northeast', northeast], ['southwest', southwest]]);
}

/** {latitude, longitude} -> {lat, lng}; a missing coordinate is 0 (ProtoJSON). */
function latLng(point) {
  if (!(point instanceof Map)) return null;
  const coordinate = (key) => {
    const v = point.get(key);
    if (v === undefined) return new JsonNumber('0');
    return v instanceof JsonNumber ? v : null;
  };
  const lat = coordinate('latitude');
  if (!lat) return null;
  const lng = coordinate('longitude');
  if (!lng) return null;
  return obj([['lat', lat], ['lng', lng]]);
}

function plusCode(value) {
  if (value === undefined) return null;
  const out = new Map();
  for (const [newKey, legacyKey] of [['compoundCode', 'compound_code'], ['globalCode', 'global_code']]) {
    const code = str(get(value, newKey));
    if (code !== null) out.set(legacyKey, code);
  }
  return out.size ? out : null;
}

function types(value) {
  if (!Array.isArray(value)) return null;
  return value.filter((t) => typeof t === 'string');
}

module.exports = { GoogleNew, NEW_URL, FIELD_MASK, usableKey, requestBody, toLegacy, errorFromAnswer };
