//! A configuration's text as callers hand it over: bytes, or the UTF-16 of a JavaScript or
//! Python string. What cannot be a file's UTF-8 text is an issue with its place, never a
//! quietly replaced character (a changed password), and never the text itself.

use crate::issue::{Code, Issue};
use crate::yaml::Mark;

/// The text of `bytes`, or an issue at the first byte that is not UTF-8.
pub fn from_utf8(bytes: Vec<u8>) -> Result<String, Issue> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        // the prefix is valid UTF-8, so this never fails
        let before = std::str::from_utf8(valid).unwrap_or_default();
        encoding(
            mark(before),
            format!("is not UTF-8 text (byte {} is not)", valid.len()),
        )
    })
}

/// The text of UTF-16 `units`, or an issue at the first half of a surrogate pair that stands
/// alone.
pub fn from_utf16(units: &[u16]) -> Result<String, Issue> {
    let mut text = String::with_capacity(units.len());
    for c in char::decode_utf16(units.iter().copied()) {
        match c {
            Ok(c) => text.push(c),
            Err(_) => {
                return Err(encoding(
                    mark(&text),
                    "holds a lone UTF-16 surrogate, half of a character that no file can hold"
                        .into(),
                ));
            }
        }
    }
    Ok(text)
}

/// The place just after `before`.
fn mark(before: &str) -> Mark {
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Mark {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

fn encoding(at: Mark, what: String) -> Issue {
    Issue::new(
        "",
        Some(at),
        Code::Encoding,
        format!("the configuration {what}; give it as UTF-8 text"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn places_count_characters_and_skip_whole_pairs() {
        // an emoji (a surrogate pair) before the lone half on the next line
        let mut units = utf16("# owner \u{1F600} team\nkey: a");
        units.push(0xD83D);
        units.extend(utf16("b\n"));

        let issue = from_utf16(&units).unwrap_err();

        assert_eq!(issue.code, Code::Encoding);
        assert_eq!(issue.mark, Some(Mark { line: 2, column: 7 }));
        assert_eq!(
            from_utf16(&utf16("a: \u{1F600}\n")).unwrap(),
            "a: \u{1F600}\n"
        );
    }

    #[test]
    fn bytes_that_are_not_utf8_have_a_place() {
        let issue = from_utf8(b"a: 1\nb: \xc3x\n".to_vec()).unwrap_err();

        assert_eq!(issue.mark, Some(Mark { line: 2, column: 4 }));
        assert!(issue.message.contains("byte 8"), "{}", issue.message);
        assert_eq!(from_utf8(b"a: 1\n".to_vec()).unwrap(), "a: 1\n");
    }
}
