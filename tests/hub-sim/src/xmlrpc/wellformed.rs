//! A well-formedness check that words its errors like expat.
//!
//! The hub feeds the request body to Python's expat parser and replies to a malformed body with
//! HTTP 400 and `Invalid request: <expat message>: line L, column C` (line from 1, column from
//! 0). dxr's parser reports errors differently, so the simulator checks the body first with
//! this scanner. It covers the common cases: a truncated document ("no element found"), a
//! truncated tag ("unclosed token"), mismatched end tags, bad characters, undefined entities
//! and text outside the root element.

use std::fmt;

/// The first well-formedness error in a document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlError {
    /// expat's error string.
    pub message: &'static str,
    /// 1-based line.
    pub line: usize,
    /// 0-based column in characters.
    pub column: usize,
}

impl fmt::Display for XmlError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}: line {}, column {}",
            self.message, self.line, self.column
        )
    }
}

const INVALID_TOKEN: &str = "not well-formed (invalid token)";
const NO_ELEMENT: &str = "no element found";
const UNCLOSED_TOKEN: &str = "unclosed token";
const SYNTAX_ERROR: &str = "syntax error";
const JUNK_AFTER_ROOT: &str = "junk after document element";
const MISMATCHED_TAG: &str = "mismatched tag";
const UNDEFINED_ENTITY: &str = "undefined entity";
const MISPLACED_DECLARATION: &str = "XML or text declaration not at start of entity";

/// Checks that `input` is one well-formed XML document.
pub fn check(input: &[u8]) -> Result<(), XmlError> {
    let text = match std::str::from_utf8(input) {
        Ok(text) => text,
        Err(error) => {
            let valid = std::str::from_utf8(&input[..error.valid_up_to()]).unwrap_or_default();
            return Err(error_at(valid, valid.len(), INVALID_TOKEN));
        }
    };
    Scanner {
        text,
        pos: 0,
        stack: Vec::new(),
        root_seen: false,
    }
    .run()
}

fn error_at(text: &str, byte_pos: usize, message: &'static str) -> XmlError {
    let before = &text[..byte_pos.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count();
    XmlError {
        message,
        line,
        column,
    }
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    stack: Vec<&'a str>,
    root_seen: bool,
}

impl<'a> Scanner<'a> {
    fn error(&self, byte_pos: usize, message: &'static str) -> XmlError {
        error_at(self.text, byte_pos, message)
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn run(mut self) -> Result<(), XmlError> {
        while self.pos < self.text.len() {
            if self.stack.is_empty() {
                self.outside_root()?;
            } else {
                self.content()?;
            }
        }

        if !self.root_seen || !self.stack.is_empty() {
            return Err(self.error(self.text.len(), NO_ELEMENT));
        }
        Ok(())
    }

    /// Scans whitespace, comments, processing instructions, a DOCTYPE and the root's start.
    fn outside_root(&mut self) -> Result<(), XmlError> {
        let Some(character) = self.peek() else {
            return Ok(());
        };
        if character.is_ascii_whitespace() {
            self.pos += 1;
            return Ok(());
        }
        if character != '<' {
            let message = if self.root_seen {
                JUNK_AFTER_ROOT
            } else {
                SYNTAX_ERROR
            };
            return Err(self.error(self.pos, message));
        }

        let rest = self.rest();
        if rest.starts_with("<?") {
            return self.processing_instruction();
        }
        if rest.starts_with("<!--") {
            return self.skip_past("-->");
        }
        if rest.starts_with("<!DOCTYPE") && !self.root_seen {
            return self.doctype();
        }
        if rest.starts_with("</") || rest.starts_with("<!") {
            return Err(self.error(self.pos, SYNTAX_ERROR));
        }
        if self.root_seen {
            return Err(self.error(self.pos, JUNK_AFTER_ROOT));
        }
        self.root_seen = true;
        self.start_tag()
    }

    /// Scans character data, references, and the tags inside an element.
    fn content(&mut self) -> Result<(), XmlError> {
        let rest = self.rest();
        match rest.as_bytes()[0] {
            b'<' => {
                if rest.starts_with("</") {
                    self.end_tag()
                } else if rest.starts_with("<!--") {
                    self.skip_past("-->")
                } else if rest.starts_with("<![CDATA[") {
                    self.skip_past("]]>")
                } else if rest.starts_with("<?") {
                    self.processing_instruction()
                } else if rest.starts_with("<!") {
                    Err(self.error(self.pos + 1, INVALID_TOKEN))
                } else {
                    self.start_tag()
                }
            }
            b'&' => self.reference(),
            _ => {
                let length = rest.find(['<', '&']).unwrap_or(rest.len());
                self.pos += length;
                Ok(())
            }
        }
    }

    fn skip_past(&mut self, terminator: &str) -> Result<(), XmlError> {
        let start = self.pos;
        match self.rest().find(terminator) {
            Some(at) => {
                self.pos += at + terminator.len();
                Ok(())
            }
            None => Err(self.error(start, UNCLOSED_TOKEN)),
        }
    }

    fn processing_instruction(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        let is_declaration = self.rest().starts_with("<?xml")
            && self.rest()[5..].starts_with(|c: char| c.is_ascii_whitespace() || c == '?');
        if is_declaration && start != 0 {
            return Err(self.error(start, MISPLACED_DECLARATION));
        }
        self.skip_past("?>")
    }

    fn doctype(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        let mut depth = 0_i32;
        for (offset, character) in self.rest().char_indices() {
            match character {
                '[' => depth += 1,
                ']' => depth -= 1,
                '>' if depth <= 0 => {
                    self.pos += offset + 1;
                    return Ok(());
                }
                _ => {}
            }
        }
        Err(self.error(start, UNCLOSED_TOKEN))
    }

    fn name(&mut self) -> Option<&'a str> {
        let rest = self.rest();
        let mut characters = rest.char_indices();
        let (_, first) = characters.next()?;
        if !is_name_start(first) {
            return None;
        }
        let length = characters
            .find(|(_, character)| !is_name_char(*character))
            .map_or(rest.len(), |(at, _)| at);
        self.pos += length;
        Some(&rest[..length])
    }

    fn skip_whitespace(&mut self) -> bool {
        let rest = self.rest();
        let length = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len();
        self.pos += length;
        length > 0
    }

    /// Returns the error for the current position: unclosed at end of input, else invalid.
    fn token_error(&self, tag_start: usize) -> XmlError {
        if self.pos >= self.text.len() {
            self.error(tag_start, UNCLOSED_TOKEN)
        } else {
            self.error(self.pos, INVALID_TOKEN)
        }
    }

    fn start_tag(&mut self) -> Result<(), XmlError> {
        let tag_start = self.pos;
        self.pos += 1;
        let Some(name) = self.name() else {
            return Err(self.token_error(tag_start));
        };

        loop {
            let had_space = self.skip_whitespace();
            let rest = self.rest();
            if rest.starts_with("/>") {
                self.pos += 2;
                return Ok(());
            }
            if rest.starts_with('>') {
                self.pos += 1;
                self.stack.push(name);
                return Ok(());
            }
            if !had_space || self.name().is_none() {
                return Err(self.token_error(tag_start));
            }
            self.skip_whitespace();
            if self.peek() != Some('=') {
                return Err(self.token_error(tag_start));
            }
            self.pos += 1;
            self.skip_whitespace();
            self.attribute_value(tag_start)?;
        }
    }

    fn attribute_value(&mut self, tag_start: usize) -> Result<(), XmlError> {
        let Some(quote) = self.peek().filter(|c| *c == '"' || *c == '\'') else {
            return Err(self.token_error(tag_start));
        };
        self.pos += 1;
        loop {
            match self.peek() {
                None => return Err(self.error(tag_start, UNCLOSED_TOKEN)),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(());
                }
                Some('<') => return Err(self.error(self.pos, INVALID_TOKEN)),
                Some('&') => self.reference()?,
                Some(c) => self.pos += c.len_utf8(),
            }
        }
    }

    fn end_tag(&mut self) -> Result<(), XmlError> {
        let tag_start = self.pos;
        self.pos += 2;
        let name_start = self.pos;
        let Some(name) = self.name() else {
            return Err(self.token_error(tag_start));
        };
        self.skip_whitespace();
        if self.peek() != Some('>') {
            return Err(self.token_error(tag_start));
        }
        if self.stack.last() != Some(&name) {
            return Err(self.error(name_start, MISMATCHED_TAG));
        }
        self.pos += 1;
        self.stack.pop();
        Ok(())
    }

    fn reference(&mut self) -> Result<(), XmlError> {
        let start = self.pos;
        let rest = &self.rest()[1..];
        let Some(end) = rest.find(';') else {
            return Err(self.error(start, INVALID_TOKEN));
        };
        let body = &rest[..end];
        let valid = match body.strip_prefix('#') {
            Some(number) => match number.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16)
                    .ok()
                    .and_then(char::from_u32)
                    .is_some(),
                None => number
                    .parse::<u32>()
                    .ok()
                    .and_then(char::from_u32)
                    .is_some(),
            },
            None => {
                if body.is_empty() || !body.chars().all(is_name_char) {
                    return Err(self.error(start, INVALID_TOKEN));
                }
                if !matches!(body, "amp" | "lt" | "gt" | "quot" | "apos") {
                    return Err(self.error(start, UNDEFINED_ENTITY));
                }
                true
            }
        };
        if !valid {
            return Err(self.error(start, INVALID_TOKEN));
        }
        self.pos += end + 2;
        Ok(())
    }
}

fn is_name_start(character: char) -> bool {
    character.is_alphabetic() || character == '_' || character == ':'
}

fn is_name_char(character: char) -> bool {
    is_name_start(character) || character.is_ascii_digit() || character == '-' || character == '.'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(input: &str) -> String {
        check(input.as_bytes())
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn accepts_method_calls() {
        let call = "<?xml version=\"1.0\"?><methodCall><methodName>a&amp;b</methodName>\
                    <params><param><value><nil/></value></param></params></methodCall>\n";
        assert_eq!(check(call.as_bytes()), Ok(()));
    }

    #[test]
    fn truncated_document() {
        assert_eq!(
            message("<methodCall><methodName>getAPIVersion"),
            "no element found: line 1, column 37"
        );
        assert_eq!(message("  \n "), "no element found: line 2, column 1");
    }

    #[test]
    fn other_errors() {
        assert_eq!(message("<a></b>"), "mismatched tag: line 1, column 5");
        assert_eq!(message("hello"), "syntax error: line 1, column 0");
        assert_eq!(
            message("<a>< b</a>"),
            "not well-formed (invalid token): line 1, column 4"
        );
        assert_eq!(
            message("<a/><b/>"),
            "junk after document element: line 1, column 4"
        );
        assert_eq!(
            message("<a>&nbsp;</a>"),
            "undefined entity: line 1, column 3"
        );
        assert_eq!(
            message("<methodCall><meth"),
            "unclosed token: line 1, column 12"
        );
    }
}
