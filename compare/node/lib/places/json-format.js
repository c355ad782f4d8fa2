'use strict';
// JSON values that keep what JSON.parse loses, and Google's legacy layout.
//
// Input: provider bodies (Buffers or strings) for `parseJson`, or values
// built in code. Output: `toGoogleJson(value)`, the text that follows the AT
// line of a WHATSAT answer (after `squeezeNewlines`), byte for byte the rule
// of src/places/json_format.rs.
//
// The value model: objects are `Map`s (key order kept, and integer-like keys
// are not moved to the front as plain objects would move them), arrays are
// Arrays, numbers are `JsonNumber`s holding the provider's own text
// (`-73.97649899999999`, `1e-7`, `4.50`, `-0.0`: JSON.parse would rewrite
// them), strings, booleans and null are themselves.

/** A JSON number as its source text. */
class JsonNumber {
  constructor(text) {
    this.text = text;
  }
  toString() {
    return this.text;
  }
}

/** A Map from [key, value] pairs, for objects built in code. */
function obj(pairs) {
  return new Map(pairs);
}

class JsonSyntaxError extends Error {}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

/** serde_json caps nesting at 128; so do we (and recursion stays shallow). */
const MAX_DEPTH = 128;

/**
 * Parses JSON text strictly (RFC 8259, as serde_json: no trailing commas,
 * no lone surrogates, only white space around the value). Throws
 * JsonSyntaxError. Numbers keep their text; an exponent's `E` becomes `e`,
 * as serde_json's `arbitrary_precision` writes it.
 */
function parseJson(input) {
  const text = Buffer.isBuffer(input) ? decodeUtf8(input) : input;
  let i = 0;
  const fail = (what) => {
    throw new JsonSyntaxError(`${what} at ${i}`);
  };
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++;
      else break;
    }
  };
  const value = (depth) => {
    if (depth > MAX_DEPTH) fail('nested too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const map = new Map();
      ws();
      if (text[i] === '}') {
        i++;
        return map;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail('expected a key');
        const key = string();
        ws();
        if (text[i] !== ':') fail('expected :');
        i++;
        map.set(key, value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return map;
        }
        fail('expected , or }');
      }
    }
    if (c === '[') {
      i++;
      const array = [];
      ws();
      if (text[i] === ']') {
        i++;
        return array;
      }
      for (;;) {
        array.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return array;
        }
        fail('expected , or ]');
      }
    }
    if (c === '"') return string();
    if (text.startsWith('true', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('false', i)) {
      i += 5;
      return false;
    }
    if (text.startsWith('null', i)) {
      i += 4;
      return null;
    }
    return number();
  };
  const number = () => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (!m || m[0].length === 0) fail('expected a value');
    i += m[0].length;
    return new JsonNumber(m[0].replace('E', 'e'));
  };
  const string = () => {
    i++; // opening quote
    let out = '';
    let start = i;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const code = text.charCodeAt(i);
      if (code === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (code < 0x20) fail('control character in string');
      if (code === 0x5c) {
        out += text.slice(start, i);
        i++;
        const e = text[i++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const unit = hex4();
            if (unit >= 0xd800 && unit <= 0xdbff) {
              if (text[i] !== '\\' || text[i + 1] !== 'u') fail('lone leading surrogate');
              i += 2;
              const low = hex4();
              if (low < 0xdc00 || low > 0xdfff) fail('lone leading surrogate');
              out += String.fromCharCode(unit, low);
            } else if (unit >= 0xdc00 && unit <= 0xdfff) {
              fail('lone trailing surrogate');
            } else {
              out += String.fromCharCode(unit);
            }
            break;
          }
          default:
            fail('bad escape');
        }
        start = i;
      } else {
        i++;
      }
    }
  };
  const hex4 = () => {
    const h = text.slice(i, i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) fail('bad \\u escape');
    i += 4;
    return parseInt(h, 16);
  };
  const result = value(0);
  ws();
  if (i !== text.length) fail('trailing characters');
  return result;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function decodeUtf8(buf) {
  try {
    return strictUtf8.decode(buf);
  } catch {
    throw new JsonSyntaxError('not UTF-8');
  }
}

/** Spaces per nesting level. */
const INDENT = 3;

/** `value` as Google-style JSON text (the rule of json_format.rs). */
function toGoogleJson(value) {
  const out = [];
  writeValue(out, value, 0);
  return out.join('');
}

function indent(level) {
  return ' '.repeat(level * INDENT);
}

function writeValue(out, value, level) {
  if (value === null || value === undefined) out.push('null');
  else if (value === true) out.push('true');
  else if (value === false) out.push('false');
  else if (value instanceof JsonNumber) out.push(value.text);
  else if (typeof value === 'number') out.push(String(value));
  else if (typeof value === 'string') out.push(quote(value));
  else if (Array.isArray(value)) {
    if (value.length === 0) {
      out.push('[]');
      return;
    }
    out.push('[');
    value.forEach((element, index) => {
      out.push('\n', indent(level + 1));
      writeValue(out, element, level + 1);
      if (index !== value.length - 1) out.push(',');
    });
    out.push('\n', indent(level), ']');
  } else {
    const entries = value instanceof Map ? [...value.entries()] : Object.entries(value);
    if (entries.length === 0) {
      out.push('{}');
      return;
    }
    out.push('{');
    entries.forEach(([key, member], index) => {
      out.push('\n', indent(level + 1), quote(key), ' : ');
      writeValue(out, member, level + 1);
      if (index !== entries.length - 1) out.push(',');
    });
    out.push('\n', indent(level), '}');
  }
}

/** A quoted JSON string, escaped by the module's rule. */
function quote(text) {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    const code = text.charCodeAt(i);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code === 0x08) out += '\\b';
    else if (code === 0x0c) out += '\\f';
    else if (ch === '<') out += '\\u003c';
    else if (ch === '>') out += '\\u003e';
    else if (code < 0x20 || code === 0x7f) out += '\\u00' + code.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + '"';
}

/**
 * Squeezes every run of newlines to one and drops trailing newlines
 * (PROTOCOL §2), so a WHATSAT answer ends at its first blank line.
 */
function squeezeNewlines(text) {
  return text.replace(/\n{2,}/g, '\n').replace(/\n+$/, '');
}

/** `value.get(key)` for a Map, undefined for anything else. */
function get(value, key) {
  return value instanceof Map ? value.get(key) : undefined;
}

module.exports = {
  JsonNumber,
  JsonSyntaxError,
  obj,
  get,
  parseJson,
  toGoogleJson,
  quote,
  squeezeNewlines,
};
