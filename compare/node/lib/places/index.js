'use strict';
// Places: the one interface WHATSAT uses to ask "what is near here?", as
// src/places/mod.rs. Input: a query {lat, lng, radiusMText, radiusM, bound}
// from connection.js; a provider (offline, google, google-new) answers with
// a legacy Nearby Search object or throws a PlacesError; `whatsatJson`
// shapes either into the exact JSON text that follows the AT line (first
// `bound` results, Google-style layout, no blank lines).

const { PlacesError } = require('./error');
const { toGoogleJson, squeezeNewlines, obj } = require('./json-format');

/** A legacy-shaped error object, keys in Google's (alphabetical) order. */
function errorObject(error) {
  return obj([
    ['error_message', error.message],
    ['html_attributions', []],
    ['results', []],
    ['status', error.status],
  ]);
}

/** Keeps the first `bound` results; anything not OK/ZERO_RESULTS becomes an error object. */
function shapeSuccess(object, bound) {
  if (!(object instanceof Map)) {
    return errorObject(new PlacesError('UNKNOWN_ERROR', 'Places answered with JSON that is not an object'));
  }
  const status = object.get('status');
  if (typeof status !== 'string') {
    return errorObject(new PlacesError('UNKNOWN_ERROR', 'Places answered without a status'));
  }
  if (status !== 'OK' && status !== 'ZERO_RESULTS') {
    const message = object.get('error_message');
    return errorObject(
      new PlacesError(status, typeof message === 'string' ? message : `Places answered ${status}`),
    );
  }
  const results = object.get('results');
  if (!Array.isArray(results)) {
    return errorObject(new PlacesError('UNKNOWN_ERROR', 'Places answered without a results list'));
  }
  const shaped = new Map(object);
  shaped.set('results', results.slice(0, bound));
  return shaped;
}

/**
 * A shaped object as {json, status, results}: the answer's JSON text, and
 * its status and number of results for the log's summary entry (PROTOCOL §4).
 */
function described(object) {
  const status = object.get('status');
  const results = object.get('results');
  return {
    json: squeezeNewlines(toGoogleJson(object)),
    status: typeof status === 'string' ? status : 'UNKNOWN_ERROR',
    results: Array.isArray(results) ? results.length : 0,
  };
}

/** A WHATSAT answer's JSON, status and result count (async: a provider may use the network). */
async function whatsatAnswer(places, query) {
  let object;
  try {
    object = shapeSuccess(await places.nearby(query), query.bound);
  } catch (error) {
    object = errorObject(
      error instanceof PlacesError ? error : new PlacesError('UNKNOWN_ERROR', 'the request to Places failed'),
    );
  }
  return described(object);
}

/** The same, without a promise, for a provider that answers at once. */
function whatsatAnswerSync(places, query) {
  return described(shapeSuccess(places.nearbySync(query), query.bound));
}

/** The JSON text of a WHATSAT answer. */
async function whatsatJson(places, query) {
  return (await whatsatAnswer(places, query)).json;
}

/**
 * The provider the config names. `apiKey` is PLACES_API_KEY (empty counts as
 * missing). Throws a one-line message (a config error) when it cannot be built.
 */
function fromConfig(places, apiKey, warn) {
  if (places.provider === 'offline') {
    const { Offline } = require('./offline');
    try {
      return new Offline();
    } catch (e) {
      throw new Error(`offline Places data cannot be loaded: ${e.message}`);
    }
  }
  const key = requiredKey(apiKey, places.provider);
  if (places.provider === 'google') {
    const { Google } = require('./google');
    return new Google(places.url, key, places.timeoutMs, warn);
  }
  const { GoogleNew, usableKey } = require('./google-new');
  if (!usableKey(key)) {
    throw new Error(
      '[places] provider "google-new": PLACES_API_KEY holds characters an HTTP header cannot carry',
    );
  }
  return new GoogleNew(places.url, key, places.timeoutMs, warn);
}

function requiredKey(apiKey, provider) {
  if (apiKey === undefined || apiKey === null || apiKey === '') {
    throw new Error(`[places] provider "${provider}" needs an API key in PLACES_API_KEY`);
  }
  return apiKey;
}

module.exports = { errorObject, shapeSuccess, whatsatJson, whatsatAnswer, whatsatAnswerSync, fromConfig };
