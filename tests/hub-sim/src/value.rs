//! XML-RPC values as written in scenario files and control requests.
//!
//! JSON maps onto XML-RPC directly (`null` is `<nil/>`, a number with a fraction or exponent is
//! a double, other numbers are ints). Unlike `dxr::Value`, whose structs are sorted maps, a
//! [`Val`] keeps struct members in the order they were written. The hub stores task requests
//! as the XML text Python wrote, with dict members in insertion order, so that order must
//! survive to reproduce the text byte for byte.

use std::collections::BTreeMap;
use std::fmt;

use dxr::Value;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};

/// An XML-RPC value whose struct members keep their order.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// `<nil/>`, JSON `null`.
    Nil,
    /// `<boolean>`.
    Bool(bool),
    /// `<int>`, or `<i8>` outside 32 bits.
    Int(i64),
    /// `<double>`.
    Double(f64),
    /// `<string>`.
    Str(String),
    /// `<array>`.
    Array(Vec<Val>),
    /// `<struct>`, members in document order.
    Struct(Vec<(String, Val)>),
}

impl Val {
    /// Converts to a `dxr::Value`; ints that fit in 32 bits become `Integer`.
    pub fn to_value(&self) -> Value {
        match self {
            Val::Nil => Value::Nil,
            Val::Bool(flag) => Value::Boolean(*flag),
            Val::Int(number) => int_value(*number),
            Val::Double(number) => Value::Double(*number),
            Val::Str(text) => Value::String(text.clone()),
            Val::Array(items) => Value::Array(items.iter().map(Val::to_value).collect()),
            Val::Struct(members) => Value::Struct(
                members
                    .iter()
                    .map(|(name, value)| (name.clone(), value.to_value()))
                    .collect::<BTreeMap<_, _>>(),
            ),
        }
    }

    /// Converts from a `dxr::Value`; struct members come out sorted by name. Date-time and
    /// base64 values, which the hub never stores in these places, become strings.
    pub fn from_value(value: &Value) -> Val {
        match value {
            Value::Nil => Val::Nil,
            Value::Boolean(flag) => Val::Bool(*flag),
            Value::Integer(number) => Val::Int(i64::from(*number)),
            Value::Long(number) => Val::Int(*number),
            Value::Double(number) => Val::Double(*number),
            Value::String(text) => Val::Str(text.clone()),
            Value::Array(items) => Val::Array(items.iter().map(Val::from_value).collect()),
            Value::Struct(members) => Val::Struct(
                members
                    .iter()
                    .map(|(name, value)| (name.clone(), Val::from_value(value)))
                    .collect(),
            ),
            other => Val::Str(format!("{other:?}")),
        }
    }

    /// Returns the member `name` of a struct.
    pub fn get(&self, name: &str) -> Option<&Val> {
        match self {
            Val::Struct(members) => members
                .iter()
                .find(|(member, _)| member == name)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    /// Returns the int, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Val::Int(number) => Some(*number),
            _ => None,
        }
    }

    /// Returns the string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Val::Str(text) => Some(text),
            _ => None,
        }
    }
}

/// Makes an XML-RPC int the way the hub marshals Python ints: `<int>` inside 32 bits,
/// `<i8>` outside.
pub fn int_value(number: i64) -> Value {
    match i32::try_from(number) {
        Ok(small) => Value::Integer(small),
        Err(_) => Value::Long(number),
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON value standing for an XML-RPC value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Nil)
    }

    fn visit_none<E: de::Error>(self) -> Result<Val, E> {
        Ok(Val::Nil)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Val, D::Error> {
        deserializer.deserialize_any(ValVisitor)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Val, E> {
        Ok(Val::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Val, E> {
        Ok(Val::Int(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Val, E> {
        i64::try_from(value).map(Val::Int).map_err(|_| {
            E::custom(format!(
                "integer {value} is beyond the 64-bit range of <i8>"
            ))
        })
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Val, E> {
        Ok(Val::Double(value))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Val, E> {
        Ok(Val::Str(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Val, E> {
        Ok(Val::Str(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Val>()? {
            items.push(item);
        }
        Ok(Val::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut members = Vec::new();
        while let Some((name, value)) = map.next_entry::<String, Val>()? {
            members.push((name, value));
        }
        Ok(Val::Struct(members))
    }
}

impl Serialize for Val {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Val::Nil => serializer.serialize_unit(),
            Val::Bool(flag) => serializer.serialize_bool(*flag),
            Val::Int(number) => serializer.serialize_i64(*number),
            Val::Double(number) => serializer.serialize_f64(*number),
            Val::Str(text) => serializer.serialize_str(text),
            Val::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Val::Struct(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (name, value) in members {
                    map.serialize_entry(name, value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_member_order_and_number_kinds() {
        let parsed: Val = serde_json::from_str(r#"{"z": 1, "a": 1.0, "m": null}"#).unwrap();
        assert_eq!(
            parsed,
            Val::Struct(vec![
                ("z".into(), Val::Int(1)),
                ("a".into(), Val::Double(1.0)),
                ("m".into(), Val::Nil),
            ])
        );
    }

    #[test]
    fn large_ints_become_i8() {
        assert_eq!(
            Val::Int(3_000_000_000).to_value(),
            Value::Long(3_000_000_000)
        );
        assert_eq!(Val::Int(-5).to_value(), Value::Integer(-5));
    }
}
