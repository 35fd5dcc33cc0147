//! Python semantics for XML-RPC values: the hub is Python, so its messages print values with
//! `repr()`/`str()`, its checks use truthiness, and `bool` counts as `int`.

use dxr::Value;

use super::marshal::python_float_repr;

/// Formats `value` as Python's `repr()` of the unmarshalled object.
pub fn repr(value: &Value) -> String {
    match value {
        Value::Nil => "None".to_owned(),
        Value::Boolean(true) => "True".to_owned(),
        Value::Boolean(false) => "False".to_owned(),
        Value::Integer(number) => number.to_string(),
        Value::Long(number) => number.to_string(),
        Value::Double(number) => python_float_repr(*number),
        Value::String(text) => repr_str(text),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Struct(members) => {
            let parts: Vec<String> = members
                .iter()
                .map(|(name, member)| format!("{}: {}", repr_str(name), repr(member)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::DateTime(moment) => format!("<DateTime '{moment}'>"),
        Value::Base64(bytes) => format!("b'{}'", String::from_utf8_lossy(bytes)),
        other => format!("{other:?}"),
    }
}

/// Formats `value` as Python's `str()`: strings bare, everything else as `repr()`.
pub fn display(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => repr(other),
    }
}

/// Formats a string as Python's `repr()`: single quotes unless the text contains a single
/// quote and no double quote.
pub fn repr_str(text: &str) -> String {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(text.len() + 2);
    out.push(quote);
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Returns the Python class of the unmarshalled value, as `type(value)` prints it.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Nil => "<class 'NoneType'>",
        Value::Boolean(_) => "<class 'bool'>",
        Value::Integer(_) | Value::Long(_) => "<class 'int'>",
        Value::Double(_) => "<class 'float'>",
        Value::String(_) => "<class 'str'>",
        Value::Array(_) => "<class 'list'>",
        Value::Struct(_) => "<class 'dict'>",
        Value::DateTime(_) => "<class 'xmlrpc.client.DateTime'>",
        Value::Base64(_) => "<class 'xmlrpc.client.Binary'>",
        _ => "<class 'object'>",
    }
}

/// Returns Python's truth value of the unmarshalled object.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Nil => false,
        Value::Boolean(flag) => *flag,
        Value::Integer(number) => *number != 0,
        Value::Long(number) => *number != 0,
        Value::Double(number) => *number != 0.0,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Struct(members) => !members.is_empty(),
        Value::Base64(bytes) => !bytes.is_empty(),
        _ => true,
    }
}

/// Returns the value as a Python `int` (`bool` included, as `isinstance(True, int)` holds).
pub fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(number) => Some(i64::from(*number)),
        Value::Long(number) => Some(*number),
        Value::Boolean(flag) => Some(i64::from(*flag)),
        _ => None,
    }
}

/// Converts like Python's `int(value)`: ints, bools, floats (truncated) and decimal strings.
pub fn convert_int(value: &Value) -> Option<i64> {
    match value {
        Value::Double(number) if number.is_finite() => Some(number.trunc() as i64),
        Value::String(text) => text.trim().parse().ok(),
        other => as_int(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repr_like_python() {
        assert_eq!(repr(&Value::String("nosuch".into())), "'nosuch'");
        assert_eq!(repr(&Value::String("it's".into())), "\"it's\"");
        assert_eq!(repr(&Value::Nil), "None");
        assert_eq!(
            repr(&Value::Array(vec![Value::Integer(1), Value::Boolean(true)])),
            "[1, True]"
        );
        assert_eq!(display(&Value::String("x".into())), "x");
    }
}
