'use strict';
// Why a provider could not answer: a legacy status word and a message that
// is safe to show a client (never the API key or the request URL).

class PlacesError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

module.exports = { PlacesError };
