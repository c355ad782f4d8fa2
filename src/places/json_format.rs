//! Writes a JSON value laid out the way Google's legacy Places web service
//! lays out its answers, so that a WHATSAT answer looks like Google's own.
//!
//! Input: the `serde_json::Value` that `answer_json` (`answer.rs`) built from a
//! provider's answer (or an error object); keys are in the Value's order
//! (`preserve_order`) and numbers carry the provider's own text
//! (`arbitrary_precision`). Output: the text that follows the AT line of a
//! WHATSAT answer (after `answer_json` squeezes newlines).
//!
//! Google's real layout (docs/places.md, "What Google says") also puts
//! short arrays of scalars on one line, with a wrap threshold nobody knows;
//! that part is left out.
//! The rule below is what every build of the herd (Rust, Python, Node)
//! writes, byte for byte:
//!
//! - An object or a non-empty array opens on the current line (`{` / `[`),
//!   then holds one member or element per line, indented 3 spaces per
//!   nesting level; its closing bracket stands on a line of its own at the
//!   indentation of the line that opened it. Empty arrays and objects print
//!   as `[]` and `{}`.
//! - A member is `"key" : value` (space, colon, space). Every member or
//!   element but the last ends with `,`.
//! - Keys come in the Value's order.
//! - Strings (keys too): `"` is written `\"`, `\` is `\\`; newline, carriage
//!   return, tab, backspace and form feed are `\n`, `\r`, `\t`, `\b`, `\f`;
//!   any other character below U+0020, and U+007F, is `\u00XX` with four
//!   lowercase hex digits; `<` is `\u003c` and `>` is `\u003e`; `&` and `/`
//!   are written as they are; non-ASCII characters are written as UTF-8.
//! - Numbers are written exactly as the Value holds them (with
//!   `arbitrary_precision`, the provider's own text: `-73.97649899999999`,
//!   `1e-7`, `3`, `4.50`, `-0.0`; `serde_json`'s parser only lowers an
//!   exponent's `E` to `e`); `true`, `false` and `null` as such.
//! - No newline after the last bracket or scalar.
//!
//! Example:
//!
//! ```text
//! {
//!    "html_attributions" : [],
//!    "results" : [
//!       {
//!          "geometry" : {
//!             "location" : {
//!                "lat" : 34.0736204,
//!                "lng" : -118.4003563
//!             }
//!          },
//!          "types" : [
//!             "lodging",
//!             "point_of_interest"
//!          ]
//!       }
//!    ],
//!    "status" : "OK"
//! }
//! ```

use serde_json::Value;

/// Spaces per nesting level.
const INDENT: usize = 3;

/// `value` as Google-style JSON text (see the module documentation for the
/// exact rule). Recursion depth is bounded by the Value's nesting, which
/// `serde_json`'s parser caps at 128.
pub fn to_google_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

/// Appends `value`, whose first character goes on the current line and
/// whose inner lines are indented one level deeper than `level`.
fn write_value(out: &mut String, value: &Value, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&number.to_string()),
        Value::String(text) => write_string(out, text),
        Value::Array(elements) if elements.is_empty() => out.push_str("[]"),
        Value::Array(elements) => {
            out.push('[');
            let last = elements.len() - 1;
            for (index, element) in elements.iter().enumerate() {
                out.push('\n');
                push_indent(out, level + 1);
                write_value(out, element, level + 1);
                if index != last {
                    out.push(',');
                }
            }
            out.push('\n');
            push_indent(out, level);
            out.push(']');
        }
        Value::Object(members) if members.is_empty() => out.push_str("{}"),
        Value::Object(members) => {
            out.push('{');
            let last = members.len() - 1;
            for (index, (key, member)) in members.iter().enumerate() {
                out.push('\n');
                push_indent(out, level + 1);
                write_string(out, key);
                out.push_str(" : ");
                write_value(out, member, level + 1);
                if index != last {
                    out.push(',');
                }
            }
            out.push('\n');
            push_indent(out, level);
            out.push('}');
        }
    }
}

fn push_indent(out: &mut String, level: usize) {
    out.extend(std::iter::repeat_n(' ', level * INDENT));
}

/// Appends `text` as a quoted JSON string, escaped by the module's rule.
fn write_string(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0008}' => out.push_str("\\b"),
            '\u{000c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '\u{0000}'..='\u{001f}' | '\u{007f}' => {
                let byte = ch as u8;
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::to_google_json;
    use serde_json::Value;

    fn layout(json: &str) -> String {
        let value: Value = serde_json::from_str(json).unwrap();
        to_google_json(&value)
    }

    #[test]
    fn nested_object_keeps_key_order_and_indents_three_spaces() {
        let json = r#"{"results":[{"name":"Rest","geometry":{"location":{"lat":1,"lng":2}},
            "types":["a","b"]}],"html_attributions":[],"status":"OK"}"#;
        let expected = "{\n   \"results\" : [\n      {\n         \"name\" : \"Rest\",\n         \
            \"geometry\" : {\n            \"location\" : {\n               \"lat\" : 1,\n               \
            \"lng\" : 2\n            }\n         },\n         \"types\" : [\n            \"a\",\n            \
            \"b\"\n         ]\n      }\n   ],\n   \"html_attributions\" : [],\n   \"status\" : \"OK\"\n}";
        assert_eq!(layout(json), expected);
    }

    #[test]
    fn empty_containers_and_scalars() {
        assert_eq!(layout("[]"), "[]");
        assert_eq!(layout("{}"), "{}");
        assert_eq!(
            layout("[[],{},[{}]]"),
            "[\n   [],\n   {},\n   [\n      {}\n   ]\n]"
        );
        assert_eq!(
            layout(r#"{"a":true,"b":false,"c":null}"#),
            "{\n   \"a\" : true,\n   \"b\" : false,\n   \"c\" : null\n}"
        );
        assert_eq!(layout("null"), "null");
        assert_eq!(layout(r#""x""#), r#""x""#);
    }

    #[test]
    fn every_escape() {
        let value = Value::String(
            "q\" b\\ n\n r\r t\t bs\u{8} ff\u{c} nul\u{0} us\u{1f} esc\u{1b} del\u{7f} \
             lt< gt> amp& slash/ é 東 😀 \u{80} \u{2028}"
                .to_owned(),
        );
        let expected = "\"q\\\" b\\\\ n\\n r\\r t\\t bs\\b ff\\f nul\\u0000 us\\u001f \
             esc\\u001b del\\u007f lt\\u003c gt\\u003e amp& slash/ é 東 😀 \u{80} \u{2028}\"";
        assert_eq!(to_google_json(&value), expected);
    }

    #[test]
    fn keys_are_escaped_too() {
        assert_eq!(
            layout(r#"{"<a\"b>":1}"#),
            "{\n   \"\\u003ca\\\"b\\u003e\" : 1\n}"
        );
    }

    #[test]
    fn numbers_are_kept_verbatim_but_for_the_exponent_letter() {
        let json = "[-73.97649899999999,1e-7,3,34.0736204,-0.0,1E+2,4.50,12345678901234567890123]";
        assert_eq!(
            layout(json),
            "[\n   -73.97649899999999,\n   1e-7,\n   3,\n   34.0736204,\n   -0.0,\n   1e+2,\n   \
             4.50,\n   12345678901234567890123\n]"
        );
    }

    #[test]
    fn html_attribution_like_google() {
        let json = r#"{"html_attributions":["<a href=\"https://maps.google.com/maps/contrib/1\">A &amp; B</a>"]}"#;
        assert_eq!(
            layout(json),
            "{\n   \"html_attributions\" : [\n      \"\\u003ca href=\\\"https://maps.google.com/maps/contrib/1\\\"\\u003eA &amp; B\\u003c/a\\u003e\"\n   ]\n}"
        );
    }

    #[test]
    fn no_trailing_newline() {
        assert!(!layout(r#"{"a":[1]}"#).ends_with('\n'));
    }
}
