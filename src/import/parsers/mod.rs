//! One parser per scanner format, registered under DefectDojo's scan type names. A parser is
//! pure: bytes in, a [`ParsedReport`] out, no database, no network, no file system. It never
//! panics on any input: a file it cannot read is a [`ParseError`] saying what is wrong and where.
//!
//! Parsers follow DefectDojo's own (`dojo/tools/<format>/parser.py`) for which fields they fill,
//! severity mapping and title rules, so that the same report yields the same findings; where
//! DefectDojo's behaviour is a plain bug, ours says so in a comment.
//!
//! Safety: JSON through serde_json into typed structs (its recursion limit guards depth), XML
//! through quick-xml with no DTD processing and no entity expansion beyond XML's five, CSV
//! through the csv crate. Input size is capped before a parser sees it (the upload limit).

use crate::domain::report::{ParsedFinding, ParsedReport};

pub mod common;
pub mod cvss;
pub mod generic;
pub mod html;
pub mod sarif;
pub mod trivy;
pub mod xml;
pub mod zap;

/// A report the parser cannot read: what is wrong, and where (a JSON path, an XML element, a
/// CSV row) when known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", at.as_ref().map(|a| format!(" (at {a})")).unwrap_or_default())]
pub struct ParseError {
    pub message: String,
    pub at: Option<String>,
}

impl ParseError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            at: None,
        }
    }

    pub fn at(mut self, at: impl Into<String>) -> Self {
        self.at = Some(at.into());
        self
    }
}

/// A serde_json error as a parse error naming the line and column.
impl From<serde_json::Error> for ParseError {
    fn from(e: serde_json::Error) -> Self {
        let what = match e.classify() {
            serde_json::error::Category::Eof => "the JSON ends too early",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected JSON content",
            serde_json::error::Category::Io => "the file could not be read",
        };
        // serde_json's message names the offending field or value; keep it, minus its position.
        let detail = e.to_string();
        let detail = detail
            .split(" at line ")
            .next()
            .unwrap_or(&detail)
            .to_string();
        ParseError::new(format!("{what}: {detail}")).at(format!(
            "line {}, column {}",
            e.line(),
            e.column()
        ))
    }
}

/// A serde_json error in `part`, a slice of `text`, located in `text`.
pub fn within(text: &str, part: &str, e: serde_json::Error) -> ParseError {
    let mut error = ParseError::from(e);
    let offset = (part.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
    if let Some(before) = text.get(..offset) {
        let lines = before.matches('\n').count();
        let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1);
        let (line, col) = match (error.at.as_deref()).and_then(|a| {
            let (l, c) = a.strip_prefix("line ")?.split_once(", column ")?;
            Some((l.parse::<usize>().ok()?, c.parse::<usize>().ok()?))
        }) {
            Some((1, c)) => (lines + 1, column + c),
            Some((l, c)) => (lines + l, c),
            None => return error,
        };
        error.at = Some(format!("line {line}, column {col}"));
    }
    error
}

/// Where a parser hands each finding as soon as it has read it. An error stops the parse and is
/// returned from it (the consumer has gone away).
pub type Sink<'a> = dyn FnMut(ParsedFinding) -> Result<(), ParseError> + 'a;

/// A scanner format.
pub trait Parser: Sync {
    /// DefectDojo's scan type name (`"Trivy Scan"`).
    fn scan_type(&self) -> &'static str;

    /// Parses a report, handing its findings to `sink` one by one in report order as they are
    /// read, and returns the tool's version when the report names it. `file_name` is a hint for
    /// formats with several encodings (Generic Findings Import: JSON or CSV); content decides
    /// where it can. On an error the sink may already have had some findings: a consumer that
    /// stores them as they come must undo that (the import runs in one transaction).
    ///
    /// A parser implements this one (it streams) or [`Parser::parse`] (it reads the whole report
    /// first; the default here then emits what `parse` returns), never neither.
    fn parse_each(
        &self,
        bytes: &[u8],
        file_name: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<Option<String>, ParseError> {
        emit(self.parse(bytes, file_name)?, sink)
    }

    /// Parses a whole report into memory (by default: collects what [`Parser::parse_each`]
    /// hands over).
    fn parse(&self, bytes: &[u8], file_name: Option<&str>) -> Result<ParsedReport, ParseError> {
        let mut findings = Vec::new();
        let tool_version = self.parse_each(bytes, file_name, &mut |f| {
            findings.push(f);
            Ok(())
        })?;
        Ok(ParsedReport {
            findings,
            tool_version,
        })
    }
}

/// Hands every finding of an in-memory report to `sink`.
pub fn emit(report: ParsedReport, sink: &mut Sink<'_>) -> Result<Option<String>, ParseError> {
    for f in report.findings {
        sink(f)?;
    }
    Ok(report.tool_version)
}

/// Every registered parser, in the order `scanTypes` lists them.
pub fn registry() -> &'static [&'static dyn Parser] {
    &[
        &generic::GenericParser,
        &sarif::SarifParser,
        &trivy::TrivyParser,
        &zap::ZapParser,
    ]
}

/// The parser of `scan_type` (exact DefectDojo spelling).
pub fn by_scan_type(scan_type: &str) -> Option<&'static dyn Parser> {
    registry()
        .iter()
        .copied()
        .find(|p| p.scan_type() == scan_type)
}

/// The scan types a parser is registered for.
pub fn scan_types() -> Vec<&'static str> {
    registry().iter().map(|p| p.scan_type()).collect()
}

/// Text of a report: UTF-8, a leading byte-order mark dropped. Other encodings are refused.
pub fn text(bytes: &[u8]) -> Result<&str, ParseError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(ParseError::new("the file is UTF-16: convert it to UTF-8"));
    }
    std::str::from_utf8(bytes).map_err(|e| {
        ParseError::new("the file is not UTF-8").at(format!("byte {}", e.valid_up_to()))
    })
}

/// Robustness checks every parser's tests run: truncated and mutated samples must parse or
/// fail, never panic.
#[cfg(test)]
pub(crate) mod robustness {
    use super::Parser;

    /// xorshift64*: a tiny deterministic generator, enough to pick positions and bytes.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Rng(seed.max(1))
        }

        pub fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Feeds `parser` every sample cut at many points and `mutations` randomly mutated copies
    /// of each (flipped bits, bytes set to structural characters, multi-byte characters
    /// inserted, spans deleted or repeated).
    /// A panic fails the calling test; results are otherwise ignored.
    pub fn never_panics(parser: &dyn Parser, samples: &[(&str, &[u8])], mutations: usize) {
        const STRUCTURAL: &[u8] = b"{}[]<>\"',:&;/ \n\0-=#?.\\";
        let mut rng = Rng::new(0x5eed_1234_abcd_ef01);
        for (name, bytes) in samples {
            let len = bytes.len();
            let step = (len / 97).max(1);
            for cut in (0..len).step_by(step).chain([len.saturating_sub(1)]) {
                let _ = parser.parse(&bytes[..cut], Some(name));
            }
            for _ in 0..mutations {
                let mut m = bytes.to_vec();
                for _ in 0..1 + rng.below(4) {
                    if m.is_empty() {
                        break;
                    }
                    let at = rng.below(m.len());
                    match rng.below(5) {
                        0 => m[at] ^= 1 << rng.below(8),
                        1 => m[at] = STRUCTURAL[rng.below(STRUCTURAL.len())],
                        2 => {
                            let end = (at + 1 + rng.below(64)).min(m.len());
                            m.drain(at..end);
                        }
                        3 => {
                            // Multi-byte text where the parser slices strings.
                            let s = ["é", "€", "𝄞", "\u{a0}"][rng.below(4)];
                            m.splice(at..at, s.bytes());
                        }
                        _ => {
                            let end = (at + 1 + rng.below(64)).min(m.len());
                            let span: Vec<u8> = m[at..end].to_vec();
                            m.splice(at..at, span);
                        }
                    }
                }
                let _ = parser.parse(&m, Some(name));
            }
        }
    }

    /// A sample report from `tests/fixtures/scans`.
    pub fn sample(path: &str) -> Vec<u8> {
        let full = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/scans")
            .join(path);
        std::fs::read(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_each_format_once() {
        let mut types = scan_types();
        assert_eq!(
            types,
            ["Generic Findings Import", "SARIF", "Trivy Scan", "ZAP Scan"]
        );
        types.dedup();
        assert_eq!(types.len(), 4);
        assert!(by_scan_type("Generic Findings Import").is_some());
        assert!(by_scan_type("generic findings import").is_none());
    }

    #[test]
    fn text_takes_utf8_and_refuses_the_rest() {
        assert_eq!(text(b"\xEF\xBB\xBF{}").unwrap(), "{}");
        assert!(
            text(b"\xFF\xFE{\0}\0")
                .unwrap_err()
                .message
                .contains("UTF-16")
        );
        let e = text(b"ab\xC3").unwrap_err();
        assert_eq!(e.at.as_deref(), Some("byte 2"));
    }

    #[test]
    fn json_errors_say_where() {
        let e: ParseError = serde_json::from_str::<serde_json::Value>("{\n \"a\": }")
            .unwrap_err()
            .into();
        assert_eq!(e.at.as_deref(), Some("line 2, column 7"));
        assert!(e.to_string().starts_with("invalid JSON"));
    }
}
