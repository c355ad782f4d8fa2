'use strict';
// The `google` Places provider: Google's legacy Nearby Search web service,
// as src/places/google.rs. Input: a query from whatsatJson (location and
// radius) plus URL, key and timeout from the config. Output: Google's JSON
// object, keys and numbers as Google wrote them (parsed with our own
// parser, which keeps number text), or a PlacesError whose message is safe
// to show a client. Errors Google reports in an HTTP 200 body come back as
// they are (whatsatJson keeps their status and error_message); everything
// else is UNKNOWN_ERROR in our own words (http.js), never fetch's text,
// which can hold the URL and so the key.

const { exchange, TransportError, safeWord, rustFloat } = require('./http');
const { parseJson, get } = require('./json-format');
const { PlacesError } = require('./error');

const LEGACY_URL = 'https://maps.googleapis.com/maps/api/place/nearbysearch/json';

/** Every byte outside A-Z a-z 0-9 - . _ ~ as %XX (uppercase hex). */
function percentEncode(text) {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9._~-]/.test(c)) out += c;
    else out += '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

class Google {
  constructor(url, key, timeoutMs, log = () => {}) {
    this.url = url || LEGACY_URL;
    Object.defineProperty(this, 'key', { value: key, enumerable: false });
    this.timeoutMs = timeoutMs;
    this.warn = log;
  }

  /** `{url}?location=LAT,LNG&radius=METRES&key=KEY`, values percent-encoded. */
  requestUrl(query) {
    return (
      this.url +
      (this.url.includes('?') ? '&' : '?') +
      'location=' + percentEncode(rustFloat(query.lat)) + ',' + percentEncode(rustFloat(query.lng)) +
      '&radius=' + percentEncode(query.radiusMText) +
      '&key=' + percentEncode(this.key)
    );
  }

  async nearby(query) {
    let answer;
    try {
      answer = await exchange(this.requestUrl(query), { method: 'GET' }, this.timeoutMs);
    } catch (error) {
      throw this.fail(error instanceof TransportError ? error.message : 'the request to Places failed');
    }
    if (answer.status !== 200) throw this.fail(`Places answered HTTP ${answer.status}`);
    if (!Buffer.isBuffer(answer.body)) throw this.fail(answer.body.error);
    let value;
    try {
      value = parseJson(answer.body);
    } catch {
      throw this.fail('Places answered with malformed JSON');
    }
    if (!(value instanceof Map)) throw this.fail('Places answered with JSON that is not an object');
    const status = get(value, 'status');
    if (typeof status === 'string') {
      if (status !== 'OK' && status !== 'ZERO_RESULTS') this.warn(`google places: Places answered ${safeWord(status)}`);
    } else {
      this.warn('google places: Places answered without a status');
    }
    return value;
  }

  fail(message) {
    this.warn(`google places: ${message}`);
    return new PlacesError('UNKNOWN_ERROR', message);
  }
}

module.exports = { Google, LEGACY_URL, percentEncode };
