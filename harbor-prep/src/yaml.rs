//! A YAML document as a tree that remembers where each node stood in the input.
//!
//! The typed model is decoded from this tree rather than straight from the text, so that every
//! problem can name its key, line and column, and so that all of them are found in one pass.
//! Scalars keep their source text and style; the decoder resolves them against the type the key
//! needs, which is how `harbor_admin_password: 0123` stays the string `0123`.

use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, Span};

/// A place in the input: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, serde::Serialize)]
pub struct Mark {
    /// Line, counted from 1.
    pub line: usize,
    /// Column, counted from 1.
    pub column: usize,
}

impl Mark {
    fn of(span: &Span) -> Mark {
        Mark {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How a scalar was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Without quotes: its type is resolved from its text.
    Plain,
    /// Quoted or a block scalar: always a string.
    Quoted,
}

/// One node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub mark: Mark,
    /// What the node holds.
    pub kind: Kind,
}

/// The content of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar with its text after YAML escape processing.
    Scalar(String, Style),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in input order; each key with the place it stood.
    Map(Vec<(Key, Node)>),
}

/// A mapping key.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub name: String,
    /// Where the key stood.
    pub mark: Mark,
}

/// A document the YAML parser could not read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub mark: Mark,
    /// What it found there.
    pub message: String,
}

impl Node {
    /// A plain scalar's resolution under YAML 1.1 rules for `null`.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, Style::Plain) if is_null_text(s))
    }

    /// The value of key `name` in a mapping.
    pub fn get(&self, name: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|(k, _)| k.name == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The mapping's entries, or none for other nodes.
    pub fn entries(&self) -> &[(Key, Node)] {
        match &self.kind {
            Kind::Map(entries) => entries,
            _ => &[],
        }
    }

    /// A short name of the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(_, Style::Plain) if self.is_null() => "null",
            Kind::Scalar(..) => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// Whether a plain scalar's text means null.
pub fn is_null_text(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
}

/// Parses one YAML document. An empty input gives an empty mapping.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| SyntaxError {
            mark: Mark {
                line: e.marker().line(),
                column: e.marker().col() + 1,
            },
            message: e.info().to_string(),
        })?;
        builder.push(event, &span)?;
    }

    Ok(builder.finish())
}

#[derive(Default)]
struct Builder {
    /// Open collections; a mapping keeps its pending key.
    stack: Vec<Open>,
    root: Option<Node>,
    documents: usize,
    anchors: Vec<(usize, Node)>,
}

enum Open {
    Seq(Node, usize),
    Map(Node, Option<Key>, usize),
}

impl Builder {
    fn push(&mut self, event: Event<'_>, span: &Span) -> Result<(), SyntaxError> {
        let mark = Mark::of(span);
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(SyntaxError {
                        mark,
                        message: "more than one YAML document; harbor.yml holds exactly one".into(),
                    });
                }
            }
            Event::Scalar(text, style, anchor, _) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    _ => Style::Quoted,
                };
                let node = Node {
                    mark,
                    kind: Kind::Scalar(text.into_owned(), style),
                };
                self.add(node, anchor)?;
            }
            Event::SequenceStart(_, anchor, _) => self.stack.push(Open::Seq(
                Node {
                    mark,
                    kind: Kind::Seq(Vec::new()),
                },
                anchor,
            )),
            Event::MappingStart(_, anchor, _) => self.stack.push(Open::Map(
                Node {
                    mark,
                    kind: Kind::Map(Vec::new()),
                },
                None,
                anchor,
            )),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq(node, anchor)) | Some(Open::Map(node, None, anchor)) => {
                    self.add(node, anchor)?
                }
                Some(Open::Map(_, Some(key), _)) => {
                    return Err(SyntaxError {
                        mark: key.mark,
                        message: format!("key `{}` has no value", key.name),
                    });
                }
                None => {}
            },
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                    .ok_or_else(|| SyntaxError {
                        mark,
                        message: "alias to an unknown anchor".into(),
                    })?;
                self.add(node, 0)?;
            }
            _ => {}
        }

        Ok(())
    }

    fn add(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }

        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq(seq, _)) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map(map, pending, _)) => match pending.take() {
                None => {
                    let name = match node.kind {
                        Kind::Scalar(text, _) => text,
                        _ => {
                            return Err(SyntaxError {
                                mark: node.mark,
                                message: "a mapping key must be a plain string".into(),
                            });
                        }
                    };
                    let Kind::Map(entries) = &map.kind else {
                        return Ok(());
                    };
                    if entries.iter().any(|(k, _)| k.name == name) {
                        return Err(SyntaxError {
                            mark: node.mark,
                            message: format!("key `{name}` appears twice in the same mapping"),
                        });
                    }
                    *pending = Some(Key {
                        name,
                        mark: node.mark,
                    });
                }
                Some(key) => {
                    if let Kind::Map(entries) = &mut map.kind {
                        entries.push((key, node));
                    }
                }
            },
        }

        Ok(())
    }

    fn finish(self) -> Node {
        self.root.unwrap_or(Node {
            mark: Mark { line: 1, column: 1 },
            kind: Kind::Map(Vec::new()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_places_and_styles() {
        let doc = parse("a: 1\nb:\n  c: '0123'\n  d: [x, y]\n").unwrap();
        let b = doc.get("b").unwrap();
        assert_eq!(b.entries()[0].0.mark, Mark { line: 3, column: 3 });
        assert_eq!(
            b.get("c").unwrap().kind,
            Kind::Scalar("0123".into(), Style::Quoted)
        );
        assert!(matches!(&b.get("d").unwrap().kind, Kind::Seq(items) if items.len() == 2));
    }

    #[test]
    fn null_values_are_plain_empty_scalars() {
        let doc = parse("a:\nb: ~\nc: ''\n").unwrap();
        assert!(doc.get("a").unwrap().is_null());
        assert!(doc.get("b").unwrap().is_null());
        assert!(!doc.get("c").unwrap().is_null());
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let err = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(err.mark.line, 2);
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let err = parse("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.mark.line >= 1);
    }

    #[test]
    fn aliases_resolve() {
        let doc = parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(
            doc.get("b").unwrap().get("k").unwrap().kind,
            doc.get("a").unwrap().get("k").unwrap().kind
        );
    }
}
