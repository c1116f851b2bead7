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

    /// Block-style YAML text, each line indented by `indent` spaces. Plain scalars are written
    /// as they were read and quoted ones re-quoted, so a reader types them as before.
    pub fn to_yaml(&self, indent: usize) -> String {
        let mut out = String::new();
        emit(self, indent, &mut out);
        out
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

/// Block-style YAML for `value` at `indent`.
fn emit(value: &Value, indent: usize, out: &mut String) {
    use Value as V;
    let pad = " ".repeat(indent);
    match value {
        V::Map(entries) => {
            for (key, v) in entries {
                out.push_str(&pad);
                out.push_str(&crate::escape::yaml_str(key));
                out.push(':');
                emit_child(v, indent, out);
            }
        }
        V::Seq(items) => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                emit_child(item, indent, out);
            }
        }
        scalar => {
            out.push_str(&pad);
            out.push_str(&scalar_text(scalar));
            out.push('\n');
        }
    }
}

fn emit_child(value: &Value, indent: usize, out: &mut String) {
    use Value as V;
    match value {
        V::Map(e) if e.is_empty() => out.push_str(" {}\n"),
        V::Seq(s) if s.is_empty() => out.push_str(" []\n"),
        V::Map(_) | V::Seq(_) => {
            out.push('\n');
            emit(value, indent + 2, out);
        }
        scalar => {
            let text = scalar_text(scalar);
            if text.is_empty() {
                out.push('\n');
            } else {
                out.push(' ');
                out.push_str(&text);
                out.push('\n');
            }
        }
    }
}

fn scalar_text(value: &Value) -> String {
    use Value as V;
    match value {
        // a plain scalar was valid plain YAML where it was written, and block context takes
        // at least what flow context takes, so it goes back as it came
        V::Plain(s) if is_null_text(s) => String::new(),
        V::Plain(s) => s.replace('\n', " "),
        V::Str(s) => crate::escape::yaml_str(s),
        _ => String::new(),
    }
}
