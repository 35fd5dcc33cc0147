//! Reading and building [`dxr::Value`]s the way Koji's Python marshalling produces them.
//!
//! Python sends `<int>` or `<i8>` for integers depending on their size. It may also send an
//! int where a float is expected (`capacity` of `8` instead of `8.0`). So the readers here
//! accept both integer types everywhere, and integers where doubles are expected.

use std::collections::BTreeMap;

use dxr::Value;

use crate::error::DecodeError;

/// Returns the XML-RPC type name of a value, as used in decode errors.
pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) => "int",
        Value::Long(_) => "i8",
        Value::Boolean(_) => "boolean",
        Value::String(_) => "string",
        Value::Double(_) => "double",
        Value::DateTime(_) => "dateTime.iso8601",
        Value::Base64(_) => "base64",
        Value::Struct(_) => "struct",
        Value::Array(_) => "array",
        Value::Nil => "nil",
        _ => "unknown type",
    }
}

/// Reads an `<int>` or `<i8>` value as i64.
pub fn as_int(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(number) => Some(i64::from(*number)),
        Value::Long(number) => Some(*number),
        _ => None,
    }
}

/// Reads a `<double>`, `<int>` or `<i8>` value as f64.
pub fn as_double(value: &Value) -> Option<f64> {
    match value {
        Value::Double(number) => Some(*number),
        // Epoch seconds and capacities fit the 53-bit mantissa, so the cast is exact here.
        Value::Integer(number) => Some(f64::from(*number)),
        Value::Long(number) => Some(*number as f64),
        _ => None,
    }
}

/// Reads a `<string>` value.
pub fn as_str(value: &Value) -> Option<&str> {
    match value {
        Value::String(text) => Some(text),
        _ => None,
    }
}

/// Builds an integer value: `<int>` when it fits 32 bits, `<i8>` otherwise, as Koji does.
pub fn int_value(number: i64) -> Value {
    match i32::try_from(number) {
        Ok(small) => Value::Integer(small),
        Err(_) => Value::Long(number),
    }
}

/// Builds a struct value from name and value pairs.
pub fn struct_value<I, K>(members: I) -> Value
where
    I: IntoIterator<Item = (K, Value)>,
    K: Into<String>,
{
    Value::Struct(
        members
            .into_iter()
            .map(|(name, value)| (name.into(), value))
            .collect(),
    )
}

/// Builds the trailing keyword-argument struct Koji expects: the members plus
/// `__starstar: true` (`koji.encode_args`).
pub fn kwargs_value(mut members: BTreeMap<String, Value>) -> Value {
    members.insert("__starstar".to_string(), Value::Boolean(true));
    Value::Struct(members)
}

/// Splits Koji call parameters into positional values and keyword arguments: a trailing
/// struct with `__starstar` true contains the keyword arguments (`koji.decode_args`).
pub fn split_kwargs(params: &[Value]) -> (&[Value], Option<&BTreeMap<String, Value>>) {
    if let Some((Value::Struct(members), positional)) = params.split_last()
        && members.get("__starstar") == Some(&Value::Boolean(true))
    {
        return (positional, Some(members));
    }
    (params, None)
}

fn expected(what: &str, value: &Value) -> DecodeError {
    DecodeError::new(format!("expected {what}, got {}", type_name(value)))
}

/// Reads `value` as an integer.
pub(crate) fn int(value: &Value) -> Result<i64, DecodeError> {
    as_int(value).ok_or_else(|| expected("int", value))
}

/// Reads `value` as a string.
pub(crate) fn string(value: Value) -> Result<String, DecodeError> {
    match value {
        Value::String(text) => Ok(text),
        other => Err(expected("string", &other)),
    }
}

/// Reads `value` as an array.
pub(crate) fn array(value: Value) -> Result<Vec<Value>, DecodeError> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(expected("array", &other)),
    }
}

/// Decodes one struct of `kind` (such as `host`) that has an integer `id`, naming the item in
/// errors: `host 4: field capacity: ...`, or `host at index 3: field id: missing` before the
/// id is known.
pub(crate) fn decode_item<T>(
    kind: &str,
    value: Value,
    index: Option<usize>,
    decode: impl FnOnce(Fields, i64) -> Result<T, DecodeError>,
) -> Result<T, DecodeError> {
    let label = match index {
        Some(index) => format!("{kind} at index {index}"),
        None => kind.to_string(),
    };
    let fields = Fields::new(value).map_err(|error| error.within(&label))?;
    let id = fields.int("id").map_err(|error| error.within(&label))?;
    decode(fields, id).map_err(|error| error.within(format_args!("{kind} {id}")))
}

/// The members of a struct value, read field by field with errors that name the field.
pub(crate) struct Fields {
    members: BTreeMap<String, Value>,
}

impl Fields {
    /// Takes the members of a struct value.
    pub(crate) fn new(value: Value) -> Result<Self, DecodeError> {
        match value {
            Value::Struct(members) => Ok(Self { members }),
            other => Err(expected("struct", &other)),
        }
    }

    fn present(&self, name: &str) -> Option<&Value> {
        self.members.get(name).filter(|value| **value != Value::Nil)
    }

    fn required(&self, name: &str) -> Result<&Value, DecodeError> {
        match self.members.get(name) {
            None => Err(DecodeError::new(format!("field {name}: missing"))),
            Some(Value::Nil) => Err(DecodeError::new(format!(
                "field {name}: expected a value, got nil"
            ))),
            Some(value) => Ok(value),
        }
    }

    fn field_error(name: &str, error: DecodeError) -> DecodeError {
        error.within(format_args!("field {name}"))
    }

    /// Returns true when the struct has a member `name` (nil included).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.members.contains_key(name)
    }

    /// Removes and returns member `name` as sent, nil included.
    pub(crate) fn take(&mut self, name: &str) -> Option<Value> {
        self.members.remove(name)
    }

    pub(crate) fn int(&self, name: &str) -> Result<i64, DecodeError> {
        int(self.required(name)?).map_err(|error| Self::field_error(name, error))
    }

    pub(crate) fn opt_int(&self, name: &str) -> Result<Option<i64>, DecodeError> {
        self.present(name)
            .map(|value| int(value).map_err(|error| Self::field_error(name, error)))
            .transpose()
    }

    pub(crate) fn double(&self, name: &str) -> Result<f64, DecodeError> {
        let value = self.required(name)?;
        as_double(value).ok_or_else(|| Self::field_error(name, expected("double", value)))
    }

    pub(crate) fn opt_double(&self, name: &str) -> Result<Option<f64>, DecodeError> {
        self.present(name)
            .map(|value| {
                as_double(value).ok_or_else(|| Self::field_error(name, expected("double", value)))
            })
            .transpose()
    }

    pub(crate) fn bool(&self, name: &str) -> Result<bool, DecodeError> {
        match self.required(name)? {
            Value::Boolean(flag) => Ok(*flag),
            other => Err(Self::field_error(name, expected("boolean", other))),
        }
    }

    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, DecodeError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::Boolean(flag)) => Ok(Some(*flag)),
            Some(other) => Err(Self::field_error(name, expected("boolean", other))),
        }
    }

    pub(crate) fn string(&self, name: &str) -> Result<String, DecodeError> {
        match self.required(name)? {
            Value::String(text) => Ok(text.clone()),
            other => Err(Self::field_error(name, expected("string", other))),
        }
    }

    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<String>, DecodeError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(Self::field_error(name, expected("string", other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_of_both_widths_read_as_int() {
        assert_eq!(as_int(&Value::Integer(7)), Some(7));
        assert_eq!(as_int(&Value::Long(9_000_000_000)), Some(9_000_000_000));
        assert_eq!(as_int(&Value::Double(7.0)), None);
    }

    #[test]
    fn integers_read_as_double() {
        assert_eq!(as_double(&Value::Integer(8)), Some(8.0));
        assert_eq!(as_double(&Value::Long(1 << 40)), Some((1u64 << 40) as f64));
        assert_eq!(as_double(&Value::String("8".into())), None);
    }

    #[test]
    fn int_value_picks_the_width() {
        assert_eq!(int_value(5), Value::Integer(5));
        assert_eq!(int_value(9_000_000_000), Value::Long(9_000_000_000));
        assert_eq!(int_value(-9_000_000_000), Value::Long(-9_000_000_000));
    }

    #[test]
    fn kwargs_round_trip() {
        let kwargs = kwargs_value(BTreeMap::from([("ts".to_string(), Value::Boolean(true))]));
        let params = vec![Value::Integer(1), kwargs];
        let (positional, named) = split_kwargs(&params);

        assert_eq!(positional, &[Value::Integer(1)]);
        assert_eq!(
            named.and_then(|members| members.get("ts")),
            Some(&Value::Boolean(true))
        );
    }

    #[test]
    fn plain_trailing_struct_is_positional() {
        let params = vec![struct_value([("state", Value::Array(vec![]))])];
        let (positional, named) = split_kwargs(&params);

        assert_eq!(positional.len(), 1);
        assert!(named.is_none());
    }

    #[test]
    fn field_errors_name_the_field() {
        let fields = Fields::new(struct_value([
            ("capacity", Value::String("8".into())),
            ("comment", Value::Nil),
        ]))
        .unwrap();

        let error = fields.double("capacity").unwrap_err();
        assert_eq!(error.detail, "field capacity: expected double, got string");
        let error = fields.int("id").unwrap_err();
        assert_eq!(error.detail, "field id: missing");
        assert_eq!(fields.opt_string("comment").unwrap(), None);
        assert_eq!(fields.opt_string("description").unwrap(), None);
    }

    #[test]
    fn non_struct_is_rejected() {
        let error = Fields::new(Value::Array(vec![])).err().unwrap();
        assert_eq!(error.detail, "expected struct, got array");
    }
}
