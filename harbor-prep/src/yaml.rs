//! A YAML document as a tree that remembers where each node stood in the input.
//!
//! The typed model is decoded from this tree rather than straight from the text, so that every
//! problem can name its key, line and column, and so that all of them are found in one pass.
//! Scalars keep their source text and style; the decoder resolves them against the type the key
//! needs, which is how `harbor_admin_password: 0123` stays the string `0123`.

use std::collections::HashMap;
use std::fmt;

use granit_parser::{Event, Parser, ScalarStyle, Span, Tag};

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

/// The most nodes that aliases may add to one document. A handful of aliases in a harbor.yml
/// stays far below it; aliases of aliases (a "billion laughs" document) reach it within a few
/// levels and are refused instead of filling the memory.
pub const MAX_ALIAS_NODES: usize = 10_000;

/// The deepest nesting of lists and mappings a document may have; harbor.yml needs five.
pub const MAX_DEPTH: usize = 64;

/// Parses one YAML document. An empty input gives an empty mapping.
///
/// Aliases are expanded, and merge keys (`<<: *base`, `<<: [*a, *b]`) are resolved as PyYAML
/// resolves them: keys written in the mapping win over merged ones, and an earlier mapping of a
/// merge list wins over a later one. Expansion is limited by [`MAX_ALIAS_NODES`] and nesting
/// by [`MAX_DEPTH`]. A tagged scalar counts as quoted unless its tag is `!!int`, `!!float`,
/// `!!bool` or `!!null`, which ask for the plain reading.
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
    /// Open collections.
    stack: Vec<Open>,
    root: Option<Node>,
    documents: usize,
    anchors: Vec<Anchored>,
    /// Nodes added by aliases so far.
    expanded: usize,
}

/// A node an anchor names, with what an alias to it costs.
struct Anchored {
    id: usize,
    node: Node,
    size: usize,
    depth: usize,
}

enum Open {
    Seq {
        node: Node,
        anchor: usize,
    },
    Map {
        node: Node,
        pending: Option<Pending>,
        /// The value of this mapping's `<<` key, with the key's place.
        merge: Option<(Mark, Node)>,
        /// The keys so far, so that a repeated one is found without a scan.
        seen: std::collections::HashSet<String>,
        anchor: usize,
    },
}

/// A mapping key waiting for its value.
enum Pending {
    Key(Key),
    /// A plain `<<`: the value is merged into the mapping.
    Merge(Mark),
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
            Event::Scalar(text, style, anchor, tag) => {
                let style = match tag.as_deref().map(Tag::core_suffix) {
                    Some(Some("int" | "float" | "bool" | "null")) => Style::Plain,
                    Some(_) => Style::Quoted,
                    None if style == ScalarStyle::Plain => Style::Plain,
                    None => Style::Quoted,
                };
                let node = Node {
                    mark,
                    kind: Kind::Scalar(text.into_owned(), style),
                };
                self.add(node, anchor)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                self.check_depth(mark, 1)?;
                self.stack.push(Open::Seq {
                    node: Node {
                        mark,
                        kind: Kind::Seq(Vec::new()),
                    },
                    anchor,
                });
            }
            Event::MappingStart(_, anchor, _) => {
                self.check_depth(mark, 1)?;
                self.stack.push(Open::Map {
                    node: Node {
                        mark,
                        kind: Kind::Map(Vec::new()),
                    },
                    pending: None,
                    merge: None,
                    seen: std::collections::HashSet::new(),
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Open::Seq { node, anchor }) => self.add(node, anchor)?,
                Some(Open::Map {
                    node,
                    pending: None,
                    merge,
                    anchor,
                    ..
                }) => {
                    let node = match merge {
                        Some((at, value)) => merged(node, at, value)?,
                        None => node,
                    };
                    self.add(node, anchor)?;
                }
                Some(Open::Map {
                    pending: Some(pending),
                    ..
                }) => {
                    let (mark, name) = match pending {
                        Pending::Key(key) => (key.mark, key.name),
                        Pending::Merge(mark) => (mark, "<<".to_string()),
                    };
                    return Err(SyntaxError {
                        mark,
                        message: format!("key `{name}` has no value"),
                    });
                }
                None => {}
            },
            Event::Alias(id) => {
                let anchored = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|a| a.id == id)
                    .ok_or_else(|| SyntaxError {
                        mark,
                        message: "alias to an unknown anchor".into(),
                    })?;
                let (size, depth) = (anchored.size, anchored.depth);
                if self.expanded + size > MAX_ALIAS_NODES {
                    return Err(SyntaxError {
                        mark,
                        message: format!(
                            "this alias would make aliases add more than {MAX_ALIAS_NODES} \
                             nodes to the document; aliases that repeat other aliases grow \
                             exponentially (a \"billion laughs\" document), so write the \
                             values out instead"
                        ),
                    });
                }
                self.check_depth(mark, depth)?;
                let node = anchored.node.clone();
                self.expanded += size;
                self.add(node, 0)?;
            }
            _ => {}
        }

        Ok(())
    }

    /// Refuses a node of `depth` levels at the current place when it nests too deep.
    fn check_depth(&self, mark: Mark, depth: usize) -> Result<(), SyntaxError> {
        if self.stack.len() + depth > MAX_DEPTH {
            return Err(SyntaxError {
                mark,
                message: format!(
                    "lists and mappings nest more than {MAX_DEPTH} levels deep here; harbor.yml \
                     needs far fewer"
                ),
            });
        }
        Ok(())
    }

    fn add(&mut self, node: Node, anchor: usize) -> Result<(), SyntaxError> {
        if anchor != 0 {
            let (size, depth) = measure(&node);
            self.anchors.push(Anchored {
                id: anchor,
                node: node.clone(),
                size,
                depth,
            });
        }

        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { node: seq, .. }) => {
                if let Kind::Seq(items) = &mut seq.kind {
                    items.push(node);
                }
            }
            Some(Open::Map {
                node: map,
                pending,
                merge,
                seen,
                ..
            }) => match pending.take() {
                None => {
                    let (name, style) = match node.kind {
                        Kind::Scalar(text, style) => (text, style),
                        _ => {
                            return Err(SyntaxError {
                                mark: node.mark,
                                message: "a mapping key must be a plain string".into(),
                            });
                        }
                    };
                    if !matches!(map.kind, Kind::Map(_)) {
                        return Ok(());
                    }
                    let is_merge = name == "<<" && style == Style::Plain;
                    let twice = if is_merge {
                        merge.is_some()
                    } else {
                        !seen.insert(name.clone())
                    };
                    if twice {
                        return Err(SyntaxError {
                            mark: node.mark,
                            message: format!("key `{name}` appears twice in the same mapping"),
                        });
                    }
                    *pending = Some(if is_merge {
                        Pending::Merge(node.mark)
                    } else {
                        Pending::Key(Key {
                            name,
                            mark: node.mark,
                        })
                    });
                }
                Some(Pending::Merge(at)) => *merge = Some((at, node)),
                Some(Pending::Key(key)) => {
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

/// How many nodes `node` holds, itself included, and how many levels of collections.
fn measure(node: &Node) -> (usize, usize) {
    match &node.kind {
        Kind::Scalar(..) => (1, 0),
        Kind::Seq(items) => items.iter().fold((1, 1), |(size, depth), item| {
            let (s, d) = measure(item);
            (size + s, depth.max(d + 1))
        }),
        Kind::Map(entries) => entries.iter().fold((1, 1), |(size, depth), (_, value)| {
            let (s, d) = measure(value);
            (size + 1 + s, depth.max(d + 1))
        }),
    }
}

/// `map` with the mappings of its `<<` key merged in, in PyYAML's order: merged keys first (the
/// last mapping of a merge list first), each key once, the value written last winning.
fn merged(map: Node, at: Mark, value: Node) -> Result<Node, SyntaxError> {
    let not_a_mapping = |node: &Node| SyntaxError {
        mark: node.mark,
        message: format!(
            "the merge key `<<` takes a mapping, an alias to one or a list of them, not {}",
            node.type_name()
        ),
    };
    let sources = match value.kind {
        Kind::Map(entries) => vec![entries],
        Kind::Seq(items) => {
            let mut sources = Vec::new();
            for item in items {
                match item.kind {
                    Kind::Map(entries) => sources.push(entries),
                    _ => return Err(not_a_mapping(&item)),
                }
            }
            sources
        }
        _ if value.is_null() => {
            return Err(SyntaxError {
                mark: at,
                message: "the merge key `<<` has an empty value; give it a mapping or remove it"
                    .into(),
            });
        }
        _ => return Err(not_a_mapping(&value)),
    };
    let mark = map.mark;
    let explicit = match map.kind {
        Kind::Map(entries) => entries,
        other => return Ok(Node { mark, kind: other }),
    };

    let mut entries: Vec<(Key, Node)> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for (key, node) in sources.into_iter().rev().flatten().chain(explicit) {
        match index.get(&key.name) {
            Some(&i) => entries[i] = (key, node),
            None => {
                index.insert(key.name.clone(), entries.len());
                entries.push((key, node));
            }
        }
    }

    Ok(Node {
        mark,
        kind: Kind::Map(entries),
    })
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
