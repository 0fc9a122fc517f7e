//! A guarded XML pull reader over quick-xml for the XML formats. A document type declaration
//! (`<!DOCTYPE …>`, where entity bombs and external entities live) is refused outright, so no
//! entity is ever defined, fetched or expanded: references resolve only to XML's five predefined
//! entities and character references, and any other `&name;` is an error. Nothing is read from
//! disk or the network. Nesting is capped, the reader keeps no tree (callers keep what they
//! need), so memory follows the caller's findings, not the document's depth.

use quick_xml::Reader;
use quick_xml::events::Event;

use super::ParseError;

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 256;

/// One step through a document. Text pieces (including CDATA and references) between two tags
/// arrive as one `Text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An element opens (also for `<empty/>`, which is followed by its `End`): local name
    /// (namespace prefix dropped) and attributes (local names, unescaped values).
    Start(String, Vec<(String, String)>),
    End(String),
    Text(String),
    Eof,
}

pub struct XmlReader<'a> {
    reader: Reader<&'a [u8]>,
    src: &'a [u8],
    depth: usize,
    pending: Option<Node>,
    done: bool,
}

impl<'a> XmlReader<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
        XmlReader {
            reader,
            src: text.as_bytes(),
            depth: 0,
            pending: None,
            done: false,
        }
    }

    /// Nesting depth of the element being read (1 inside the root).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Where the reader is, as `line L, column C`.
    pub fn position(&self, byte: u64) -> String {
        let byte = (byte as usize).min(self.src.len());
        let before = &self.src[..byte];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let col = byte
            - before
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1)
            + 1;
        format!("line {line}, column {col}")
    }

    /// Where the reader is now, as `line L, column C`.
    pub fn here(&self) -> String {
        self.position(self.reader.buffer_position())
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(message).at(self.position(self.reader.buffer_position()))
    }

    /// The next node.
    pub fn next_node(&mut self) -> Result<Node, ParseError> {
        if let Some(node) = self.pending.take() {
            return Ok(node);
        }
        if self.done {
            return Ok(Node::Eof);
        }
        let mut text: Option<String> = None;
        loop {
            let event = match self.reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let at = self.position(self.reader.error_position());
                    return Err(ParseError::new(format!("invalid XML: {e}")).at(at));
                }
            };
            let node = match event {
                Event::Text(t) => {
                    let s = t
                        .xml10_content()
                        .map_err(|e| self.error(format!("invalid text: {e}")))?;
                    text.get_or_insert_with(String::new).push_str(&s);
                    continue;
                }
                Event::CData(t) => {
                    let s = t
                        .decode()
                        .map_err(|e| self.error(format!("invalid CDATA: {e}")))?;
                    text.get_or_insert_with(String::new).push_str(&s);
                    continue;
                }
                Event::GeneralRef(r) => {
                    let resolved = if r.is_char_ref() {
                        match r.resolve_char_ref() {
                            Ok(Some(c)) => c.to_string(),
                            _ => return Err(self.error("invalid character reference")),
                        }
                    } else {
                        let name = r
                            .decode()
                            .map_err(|e| self.error(format!("invalid reference: {e}")))?;
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(v) => v.to_string(),
                            None => {
                                return Err(self.error(format!(
                                    "unknown entity &{name}; (entities are not expanded)"
                                )));
                            }
                        }
                    };
                    text.get_or_insert_with(String::new).push_str(&resolved);
                    continue;
                }
                Event::DocType(_) => {
                    return Err(self.error(
                        "the document has a DOCTYPE: document type definitions are refused",
                    ));
                }
                Event::Start(s) => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(self.error(format!(
                            "elements are nested deeper than {MAX_DEPTH} levels"
                        )));
                    }
                    let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                    let mut attrs = Vec::new();
                    for a in s.attributes() {
                        let a = a.map_err(|e| self.error(format!("invalid attribute: {e}")))?;
                        let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                        let value = a
                            .unescape_value()
                            .map_err(|e| self.error(format!("invalid attribute {key}: {e}")))?
                            .into_owned();
                        attrs.push((key, value));
                    }
                    Node::Start(name, attrs)
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    Node::End(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
                }
                Event::Eof => {
                    self.done = true;
                    if self.depth > 0 {
                        return Err(self.error("the document ends inside an element"));
                    }
                    Node::Eof
                }
                Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => continue,
            };
            return Ok(match text {
                Some(t) => {
                    self.pending = Some(node);
                    Node::Text(t)
                }
                None => node,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Result<Vec<Node>, ParseError> {
        let mut r = XmlReader::new(text);
        let mut out = Vec::new();
        loop {
            match r.next_node()? {
                Node::Eof => return Ok(out),
                n => out.push(n),
            }
        }
    }

    #[test]
    fn reads_elements_text_and_references() {
        let nodes =
            all("<?xml version=\"1.0\"?><a x=\"1&amp;2\"><b/>t &lt;&#65;<![CDATA[<c>]]></a>")
                .unwrap();
        assert_eq!(
            nodes,
            [
                Node::Start("a".into(), vec![("x".into(), "1&2".into())]),
                Node::Start("b".into(), vec![]),
                Node::End("b".into()),
                Node::Text("t <A<c>".into()),
                Node::End("a".into()),
            ]
        );
    }

    #[test]
    fn refuses_dtds_and_unknown_entities_without_reading_anything() {
        let xxe = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>";
        let e = all(xxe).unwrap_err();
        assert!(e.message.contains("DOCTYPE"), "{e}");
        assert!(e.at.is_some());
        let bomb = format!(
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><lolz>&lol9;</lolz>",
            (1..10)
                .map(|i| format!(
                    "<!ENTITY lol{i} \"{}\">",
                    format!("&lol{};", i - 1).repeat(10)
                ))
                .collect::<String>()
        );
        let started = std::time::Instant::now();
        assert!(all(&bomb).unwrap_err().message.contains("DOCTYPE"));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let e = all("<r>&ext;</r>").unwrap_err();
        assert!(e.message.contains("unknown entity &ext;"), "{e}");
    }

    #[test]
    fn caps_nesting_and_reports_where() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let e = all(&deep).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let e = all("<a>\n  <b></c></a>").unwrap_err();
        assert_eq!(e.at.as_deref(), Some("line 2, column 6"));
        assert!(all("<a>").unwrap_err().message.contains("ends inside"));
    }
}
