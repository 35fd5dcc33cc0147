//! Writes XML-RPC documents the way the hub's Python marshaller does.
//!
//! The layout follows `xmlrpc.client.Marshaller` with Koji's `ExtendedMarshaller`:
//! - every value ends with a newline, except `<nil/>`;
//! - strings always sit in `<string>`, with only `&`, `<` and `>` escaped;
//! - booleans are `1` or `0`, and doubles use Python's `repr`;
//! - ints outside 32 bits are `<i8>`;
//! - struct members come in the order they are given: sorted for `dxr::Value`, document
//!   order for [`Val`].

use dxr::Value;

use crate::value::Val;

const XML_HEADER: &str = "<?xml version='1.0'?>\n";

/// Writes a `<methodResponse>` carrying `value`.
pub fn response(value: &Value) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_HEADER);
    out.push_str("<methodResponse>\n<params>\n<param>\n");
    write_value(&mut out, value);
    out.push_str("</param>\n</params>\n</methodResponse>\n");
    out
}

/// Writes a `<methodResponse>` carrying a fault.
pub fn fault_response(code: i32, string: &str) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_HEADER);
    out.push_str("<methodResponse>\n<fault>\n");
    write_fault_struct(&mut out, code, string);
    out.push_str("</fault>\n</methodResponse>\n");
    out
}

/// Writes a `<methodCall>` as Koji stores a task request (`koji.xmlrpcplus.dumps`).
pub fn method_call(method: &str, params: &[Val]) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_HEADER);
    out.push_str("<methodCall>\n<methodName>");
    escape_into(&mut out, method);
    out.push_str("</methodName>\n<params>\n");
    for param in params {
        out.push_str("<param>\n");
        write_val(&mut out, param);
        out.push_str("</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// Writes a `<methodResponse>` as Koji stores a task result.
pub fn stored_response(value: &Val) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(XML_HEADER);
    out.push_str("<methodResponse>\n<params>\n<param>\n");
    write_val(&mut out, value);
    out.push_str("</param>\n</params>\n</methodResponse>\n");
    out
}

fn write_fault_struct(out: &mut String, code: i32, string: &str) {
    out.push_str("<value><struct>\n<member>\n<name>faultCode</name>\n");
    write_int(out, i64::from(code));
    out.push_str("</member>\n<member>\n<name>faultString</name>\n");
    write_string(out, string);
    out.push_str("</member>\n</struct></value>\n");
}

/// Appends one value.
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Nil => out.push_str("<value><nil/></value>"),
        Value::Boolean(flag) => write_bool(out, *flag),
        Value::Integer(number) => write_int(out, i64::from(*number)),
        Value::Long(number) => write_int(out, *number),
        Value::Double(number) => write_double(out, *number),
        Value::String(text) => write_string(out, text),
        Value::Array(items) => {
            out.push_str("<value><array><data>\n");
            for item in items {
                write_value(out, item);
            }
            out.push_str("</data></array></value>\n");
        }
        Value::Struct(members) => {
            out.push_str("<value><struct>\n");
            for (name, member) in members {
                write_member_name(out, name);
                write_value(out, member);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
        Value::DateTime(moment) => {
            out.push_str(&format!(
                "<value><dateTime.iso8601>{moment}</dateTime.iso8601></value>\n"
            ));
        }
        Value::Base64(bytes) => write_base64(out, bytes),
        other => write_string(out, &format!("{other:?}")),
    }
}

/// Appends one ordered value.
pub fn write_val(out: &mut String, value: &Val) {
    match value {
        Val::Nil => out.push_str("<value><nil/></value>"),
        Val::Bool(flag) => write_bool(out, *flag),
        Val::Int(number) => write_int(out, *number),
        Val::Double(number) => write_double(out, *number),
        Val::Str(text) => write_string(out, text),
        Val::Array(items) => {
            out.push_str("<value><array><data>\n");
            for item in items {
                write_val(out, item);
            }
            out.push_str("</data></array></value>\n");
        }
        Val::Struct(members) => {
            out.push_str("<value><struct>\n");
            for (name, member) in members {
                write_member_name(out, name);
                write_val(out, member);
                out.push_str("</member>\n");
            }
            out.push_str("</struct></value>\n");
        }
    }
}

fn write_member_name(out: &mut String, name: &str) {
    out.push_str("<member>\n<name>");
    escape_into(out, name);
    out.push_str("</name>\n");
}

fn write_bool(out: &mut String, flag: bool) {
    out.push_str(if flag {
        "<value><boolean>1</boolean></value>\n"
    } else {
        "<value><boolean>0</boolean></value>\n"
    });
}

fn write_int(out: &mut String, number: i64) {
    let tag = if i32::try_from(number).is_ok() {
        "int"
    } else {
        "i8"
    };
    out.push_str("<value><");
    out.push_str(tag);
    out.push('>');
    out.push_str(&number.to_string());
    out.push_str("</");
    out.push_str(tag);
    out.push_str("></value>\n");
}

fn write_double(out: &mut String, number: f64) {
    out.push_str("<value><double>");
    out.push_str(&python_float_repr(number));
    out.push_str("</double></value>\n");
}

fn write_string(out: &mut String, text: &str) {
    out.push_str("<value><string>");
    escape_into(out, text);
    out.push_str("</string></value>\n");
}

/// Writes base64 as Python's `base64.encodebytes` does: lines of 76 characters, each ending
/// in a newline.
fn write_base64(out: &mut String, bytes: &[u8]) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut encoded = String::with_capacity(bytes.len() * 4 / 3 + 4);
    for chunk in bytes.chunks(3) {
        let word = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for (position, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if position <= chunk.len() {
                encoded.push(char::from(ALPHABET[((word >> shift) & 63) as usize]));
            } else {
                encoded.push('=');
            }
        }
    }

    out.push_str("<value><base64>\n");
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("</base64></value>\n");
}

/// Escapes text as `xmlrpc.client.escape` does: `&`, `<` and `>` only.
pub fn escape_into(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
}

/// Formats a double as Python's `repr(float)`: the shortest digits that round-trip, fixed
/// notation for decimal exponents from -4 up to 15 (with `.0` for whole numbers), scientific
/// notation with a signed two-digit exponent outside that range.
pub fn python_float_repr(number: f64) -> String {
    if number.is_nan() {
        return "nan".to_owned();
    }
    if number.is_infinite() {
        return if number > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if number == 0.0 {
        return if number.is_sign_negative() {
            "-0.0"
        } else {
            "0.0"
        }
        .to_owned();
    }

    // Rust's `{:e}` also prints the shortest round-trip digits: "1.796398487357607e9".
    let scientific = format!("{:e}", number.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if number < 0.0 { "-" } else { "" };

    if (-4..16).contains(&exponent) {
        let point = exponent + 1;
        let text = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!(
                "{}.{}",
                &digits[..point as usize],
                &digits[point as usize..]
            )
        };
        format!("{sign}{text}")
    } else {
        let (first, rest) = digits.split_at(1);
        let fraction = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        format!(
            "{sign}{first}{fraction}e{exponent_sign}{:02}",
            exponent.abs()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_repr_matches_python() {
        let cases = [
            (8.0, "8.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (1_796_398_967.278_105, "1796398967.278105"),
            (1_796_374_975.354_38, "1796374975.35438"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5, "-2.5"),
            (123_456_789_012_345_680_000.0, "1.2345678901234568e+20"),
        ];
        for (number, expected) in cases {
            assert_eq!(python_float_repr(number), expected, "repr of {number:e}");
        }
    }

    #[test]
    fn response_layout_matches_python() {
        let value = Value::Array(vec![
            Value::Long(9_000_000_000),
            Value::Nil,
            Value::Double(1.5),
        ]);
        assert_eq!(
            response(&value),
            "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
             <value><array><data>\n<value><i8>9000000000</i8></value>\n\
             <value><nil/></value><value><double>1.5</double></value>\n\
             </data></array></value>\n</param>\n</params>\n</methodResponse>\n"
        );
    }

    #[test]
    fn method_call_keeps_member_order() {
        let params = vec![
            Val::Str("a<b".into()),
            Val::Struct(vec![("z".into(), Val::Bool(true)), ("a".into(), Val::Nil)]),
        ];
        assert_eq!(
            method_call("build", &params),
            "<?xml version='1.0'?>\n<methodCall>\n<methodName>build</methodName>\n<params>\n\
             <param>\n<value><string>a&lt;b</string></value>\n</param>\n\
             <param>\n<value><struct>\n<member>\n<name>z</name>\n\
             <value><boolean>1</boolean></value>\n</member>\n<member>\n<name>a</name>\n\
             <value><nil/></value></member>\n</struct></value>\n</param>\n\
             </params>\n</methodCall>\n"
        );
    }

    #[test]
    fn base64_lines_like_encodebytes() {
        let mut out = String::new();
        write_base64(&mut out, b"hello");
        assert_eq!(out, "<value><base64>\naGVsbG8=\n</base64></value>\n");
    }
}
