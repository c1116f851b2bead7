//! Values Harbor passes through without knowing their schema (storage driver parameters, trace
//! attributes), kept so that they are written back exactly as they were read.

use serde::Serialize;

use crate::yaml::{Kind, Node, Style, is_null_text};

/// A YAML value whose scalars keep their written form.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A plain (unquoted) scalar: its type is whatever the reader resolves from the text, so it
    /// is written back unquoted and reads the same everywhere.
    Plain(String),
    /// A quoted or block scalar: always a string.
    Str(String),
    /// A list.
    Seq(Vec<Value>),
    /// A mapping, in input order.
    Map(Vec<(String, Value)>),
}

impl Value {
    /// Copies a node.
    pub fn from_node(node: &Node) -> Value {
        match &node.kind {
            Kind::Scalar(s, Style::Plain) => Value::Plain(s.clone()),
            Kind::Scalar(s, Style::Quoted) => Value::Str(s.clone()),
            Kind::Seq(items) => Value::Seq(items.iter().map(Value::from_node).collect()),
            Kind::Map(entries) => Value::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), Value::from_node(v)))
                    .collect(),
            ),
        }
    }

    /// Whether this is a plain null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Plain(s) if is_null_text(s))
    }

    /// The entries of a mapping.
    pub fn entries(&self) -> &[(String, Value)] {
        match self {
            Value::Map(e) => e,
            _ => &[],
        }
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// The scalar's text, for either style.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Plain(s) | Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// As JSON, the way a YAML 1.1 reader would type the plain scalars.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Plain(s) if is_null_text(s) => serde_json::Value::Null,
            Value::Plain(s) => {
                if let Some(b) = crate::decode::parse_bool(s) {
                    serde_json::Value::Bool(b)
                } else if let Some(n) = crate::decode::parse_int(s) {
                    serde_json::Value::from(n)
                } else if let Some(f) = s
                    .parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite() && s.contains('.'))
                {
                    serde_json::Value::from(f)
                } else {
                    serde_json::Value::String(s.clone())
                }
            }
            Value::Str(s) => serde_json::Value::String(s.clone()),
            Value::Seq(items) => items.iter().map(Value::to_json).collect(),
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}
