//! Generic Findings Import: DefectDojo's own exchange format, as JSON (`{"findings": [...]}`,
//! each finding a map of `Finding` field names) or as CSV (one row per hit, rows with the same
//! severity, title and description folded into one finding). The content decides which (a file
//! whose first non-blank byte is `{` or `[` is JSON); the file name only settles a file with no
//! content.
//!
//! Where this differs from DefectDojo (`dojo/tools/generic/`), on purpose:
//! - JSON: `cve` plus `vulnerability_ids` gives one flat list (DefectDojo appends the list as
//!   a single element); ids are not repeated.
//! - CSV: blank `CVE`, `CweId`, `epss_*`, `MitigatedDate` cells mean "absent" (DefectDojo
//!   records an empty CVE and fails on the others); `known_exploited` and `fix_available` read
//!   `FALSE` as false (DefectDojo's `bool("FALSE")` is true); folded rows do not repeat
//!   vulnerability ids or CWEs.
//! - Severities are read case-insensitively; an unknown one is an error in JSON (named) and
//!   Info in CSV (as DefectDojo).

use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, value::RawValue};

use super::common::{
    convert_bool, cwe_number, loose_bool, non_blank, parse_cwes, parse_date, parse_datetime,
    push_unique,
};
use super::cvss::{find_cvss3, find_cvss4};
use super::{ParseError, Parser, Sink};
use crate::domain::Severity;
use crate::domain::report::{Endpoint, ParsedFinding, ParsedReport, ReportFile};

pub struct GenericParser;

impl Parser for GenericParser {
    fn scan_type(&self) -> &'static str {
        "Generic Findings Import"
    }

    fn parse_each(
        &self,
        bytes: &[u8],
        file_name: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<Option<String>, ParseError> {
        let text = super::text(bytes)?;
        let first = text.trim_start().chars().next();
        let name = file_name.unwrap_or("").to_ascii_lowercase();
        match first {
            Some('{' | '[') => parse_json(text, sink),
            Some(_) => super::emit(parse_csv(text)?, sink),
            None if name.ends_with(".json") => Err(ParseError::new("the JSON file is empty")),
            None => Ok(None),
        }
    }
}

const REQUIRED: [&str; 3] = ["description", "severity", "title"];

/// The finding keys DefectDojo accepts (besides the required ones and the lists it pops:
/// endpoints, files, tags, vulnerability_ids, cwes).
const ALLOWED: &[&str] = &[
    "date",
    "cwe",
    "cve",
    "epss_score",
    "epss_percentile",
    "cvssv3",
    "cvssv3_score",
    "cvssv4",
    "cvssv4_score",
    "mitigation",
    "impact",
    "steps_to_reproduce",
    "severity_justification",
    "references",
    "active",
    "verified",
    "false_p",
    "out_of_scope",
    "risk_accepted",
    "under_review",
    "is_mitigated",
    "thread_id",
    "mitigated",
    "numerical_severity",
    "param",
    "payload",
    "line",
    "file_path",
    "component_name",
    "component_version",
    "static_finding",
    "dynamic_finding",
    "scanner_confidence",
    "unique_id_from_tool",
    "vuln_id_from_tool",
    "sast_source_object",
    "sast_sink_object",
    "sast_source_line",
    "sast_source_file_path",
    "nb_occurences",
    "publish_date",
    "service",
    "planned_remediation_date",
    "planned_remediation_version",
    "effort_for_fixing",
    "tags",
    "kev_date",
    "known_exploited",
    "ransomware_used",
    "fix_available",
    "fix_version",
    "description",
];

const POPPED: [&str; 5] = ["endpoints", "files", "tags", "vulnerability_ids", "cwes"];

/// Python's repr of a list of strings: `['a', 'b']` (DefectDojo's error messages show it).
fn py_list(items: &[&str]) -> String {
    let inner: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", inner.join(", "))
}

/// The top level of a Generic Findings Import JSON file; each finding stays an unparsed slice of
/// the input until it is read, turned into a finding and dropped.
#[derive(Deserialize)]
struct JsonReport<'a> {
    #[serde(borrow, default)]
    findings: Option<&'a RawValue>,
    #[serde(default)]
    version: Option<Value>,
}

fn parse_json(text: &str, sink: &mut Sink<'_>) -> Result<Option<String>, ParseError> {
    let not_an_object = || {
        ParseError::new("a Generic Findings Import JSON file is an object with a \"findings\" list")
    };
    if !text.trim_start().starts_with('{') {
        // Still a JSON error first when the text is not JSON at all.
        serde_json::from_str::<serde::de::IgnoredAny>(text)?;
        return Err(not_an_object());
    }
    let data: JsonReport<'_> = serde_json::from_str(text)?;
    let tool_version = data.version.as_ref().and_then(scalar_string);
    let findings: Vec<&RawValue> = match data.findings.map(RawValue::get) {
        None | Some("null") => Vec::new(),
        Some(list) if list.starts_with('[') => serde_json::from_str(list)?,
        Some(_) => return Err(ParseError::new("\"findings\" must be a list").at("findings")),
    };
    for (i, item) in findings.iter().enumerate() {
        let at = format!("findings[{i}]");
        if !item.get().starts_with('{') {
            return Err(ParseError::new("a finding must be an object").at(at));
        }
        let item: Map<String, Value> = serde_json::from_str(item.get())?;
        sink(json_finding(&item).map_err(|e| {
            let inner = prefix_at(&at, e.at.as_deref());
            e.at(inner)
        })?)?;
    }
    Ok(tool_version)
}

fn prefix_at(base: &str, inner: Option<&str>) -> String {
    match inner {
        Some(i) if i.starts_with('[') => format!("{base}{i}"),
        Some(i) => format!("{base}.{i}"),
        None => base.to_string(),
    }
}

/// A JSON value as text: strings as they are, numbers and booleans written out.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn bad(&self, key: &str, what: &str) -> ParseError {
        ParseError::new(format!("{key} must be {what}")).at(key.to_string())
    }

    fn string(&self, key: &str) -> Result<Option<String>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.bad(key, "a string")),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i32>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.bad(key, "an integer")),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.bad(key, "an integer")),
            Some(_) => Err(self.bad(key, "an integer")),
        }
    }

    fn float(&self, key: &str) -> Result<Option<f64>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(Some)
                .ok_or_else(|| self.bad(key, "a number")),
            Some(_) => Err(self.bad(key, "a number")),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, ParseError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Number(n)) => Ok(Some(n.as_f64() != Some(0.0))),
            Some(Value::String(s)) => loose_bool(s)
                .map(Some)
                .ok_or_else(|| self.bad(key, "true or false")),
            Some(_) => Err(self.bad(key, "true or false")),
        }
    }

    fn strings(&self, key: &str) -> Result<Vec<String>, ParseError> {
        match self.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| {
                    scalar_string(v).ok_or_else(|| {
                        ParseError::new(format!("{key} must be a list of strings"))
                            .at(format!("{key}[{i}]"))
                    })
                })
                .collect(),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(_) => Err(self.bad(key, "a list of strings")),
        }
    }
}

fn json_finding(item: &Map<String, Value>) -> Result<ParsedFinding, ParseError> {
    let keys: Vec<&str> = item
        .keys()
        .map(String::as_str)
        .filter(|k| !POPPED.contains(k))
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|r| !keys.contains(r))
        .collect();
    if !missing.is_empty() {
        return Err(ParseError::new(format!(
            "Required fields are missing: {}",
            py_list(&missing)
        )));
    }
    let mut not_allowed: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| !ALLOWED.contains(k) && !REQUIRED.contains(k))
        .collect();
    not_allowed.sort_unstable();
    if !not_allowed.is_empty() {
        return Err(ParseError::new(format!(
            "Not allowed fields are present: {}",
            py_list(&not_allowed)
        )));
    }
    let f = Fields(item);
    let title = f
        .string("title")?
        .ok_or_else(|| f.bad("title", "a string"))?;
    let severity_text = f
        .string("severity")?
        .ok_or_else(|| f.bad("severity", "a string"))?;
    let severity = Severity::parse_loose(&severity_text).ok_or_else(|| {
        ParseError::new(format!(
            "unknown severity {severity_text:?} (Info, Low, Medium, High or Critical)"
        ))
        .at("severity")
    })?;
    let description = f
        .string("description")?
        .ok_or_else(|| f.bad("description", "a string"))?;
    let mut finding = ParsedFinding::new(title, severity, description);

    finding.mitigation = f.string("mitigation")?;
    finding.impact = f.string("impact")?;
    finding.references = f.string("references")?;
    finding.steps_to_reproduce = f.string("steps_to_reproduce")?;
    finding.severity_justification = f.string("severity_justification")?;
    finding.param = f.string("param")?;
    finding.payload = f.string("payload")?;
    finding.file_path = f.string("file_path")?;
    finding.line = f.int("line")?;
    finding.component_name = f.string("component_name")?;
    finding.component_version = f.string("component_version")?;
    finding.unique_id_from_tool = f.string("unique_id_from_tool")?;
    finding.vuln_id_from_tool = f.string("vuln_id_from_tool")?;
    finding.service = f.string("service")?;
    finding.nb_occurences = f.int("nb_occurences")?;
    finding.scanner_confidence = f.int("scanner_confidence")?;
    finding.cvssv3 = f.string("cvssv3")?;
    finding.cvssv3_score = f.float("cvssv3_score")?;
    finding.cvssv4 = f.string("cvssv4")?;
    finding.cvssv4_score = f.float("cvssv4_score")?;
    finding.epss_score = f.float("epss_score")?;
    finding.epss_percentile = f.float("epss_percentile")?;
    finding.fix_available = f.bool("fix_available")?;
    finding.fix_version = f.string("fix_version")?;
    finding.known_exploited = f.bool("known_exploited")?;
    finding.active = f.bool("active")?;
    finding.verified = f.bool("verified")?;
    finding.false_p = f.bool("false_p")?;
    finding.is_mitigated = f.bool("is_mitigated")?;
    finding.static_finding = f.bool("static_finding")?;
    finding.dynamic_finding = f.bool("dynamic_finding")?;
    if let Some(d) = f.string("date")? {
        finding.date =
            Some(parse_date(&d).ok_or_else(|| f.bad("date", "a date (e.g. 2021-01-31)"))?);
    }
    if let Some(d) = f.string("publish_date")? {
        finding.publish_date =
            Some(parse_date(&d).ok_or_else(|| f.bad("publish_date", "a date (e.g. 2021-01-31)"))?);
    }
    if let Some(d) = f.string("mitigated")? {
        finding.mitigated =
            Some(parse_datetime(&d).ok_or_else(|| f.bad("mitigated", "a date or a timestamp"))?);
    }
    // CWE: a number, or "CWE-79".
    finding.cwe = match f.get("cwe") {
        None => None,
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n > 0)
            .or_else(|| (n.as_i64() == Some(0)).then_some(0))
            .ok_or_else(|| f.bad("cwe", "a CWE number"))
            .map(|n| (n > 0).then_some(n))?,
        Some(Value::String(s)) if s.trim().is_empty() || s.trim() == "0" => None,
        Some(Value::String(s)) => Some(cwe_number(s).ok_or_else(|| f.bad("cwe", "a CWE number"))?),
        Some(_) => return Err(f.bad("cwe", "a CWE number")),
    };
    let mut extra_cwes = Vec::new();
    for (i, c) in f.strings("cwes")?.iter().enumerate() {
        let n = cwe_number(c)
            .ok_or_else(|| ParseError::new("cwes must be CWE numbers").at(format!("cwes[{i}]")))?;
        push_unique(&mut extra_cwes, n);
    }
    if finding.cwe.is_none() {
        finding.cwe = extra_cwes.first().copied();
    }
    if let Some(c) = finding.cwe {
        finding.cwes.push(c);
    }
    for c in extra_cwes {
        push_unique(&mut finding.cwes, c);
    }
    if let Some(cve) = f.string("cve")?.and_then(non_blank) {
        finding.vulnerability_ids.push(cve);
    }
    for id in f.strings("vulnerability_ids")? {
        if let Some(id) = non_blank(id) {
            push_unique(&mut finding.vulnerability_ids, id);
        }
    }
    finding.tags = f.strings("tags")?;
    finding.endpoints = json_endpoints(f.get("endpoints"))?;
    finding.files = json_files(f.get("files"))?;
    Ok(finding)
}

/// A URL or host string as DefectDojo reads it (`host:port/path` without a scheme allowed).
fn endpoint_from_str(s: &str) -> Result<Endpoint, String> {
    Endpoint::parse(s).map_err(|e| e.0)
}

fn json_endpoints(value: Option<&Value>) -> Result<Vec<Endpoint>, ParseError> {
    let items = match value {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ParseError::new("endpoints must be a list").at("endpoints"));
        }
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("endpoints[{i}]");
        let endpoint = match item {
            Value::String(s) => {
                endpoint_from_str(s).map_err(|m| ParseError::new(m).at(at.clone()))?
            }
            Value::Object(o) => {
                endpoint_from_object(o).map_err(|m| ParseError::new(m).at(at.clone()))?
            }
            _ => return Err(ParseError::new("an endpoint is a URL or an object").at(at)),
        };
        out.push(endpoint);
    }
    Ok(out)
}

/// An endpoint given by its fields (`{"host": "example.com", "port": 443, …}`).
fn endpoint_from_object(o: &Map<String, Value>) -> Result<Endpoint, String> {
    const KEYS: [&str; 7] = [
        "protocol", "userinfo", "host", "port", "path", "query", "fragment",
    ];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("unknown endpoint field {k:?}"));
    }
    let text = |k: &str| -> Result<Option<String>, String> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("endpoint {k} must be a string")),
        }
    };
    let protocol = text("protocol")?.map(|p| p.to_ascii_lowercase());
    let port = match o.get("port") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .ok_or("endpoint port must be 0-65535")? as i32,
        ),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(
            s.parse::<u16>()
                .map_err(|_| "endpoint port must be 0-65535")? as i32,
        ),
        Some(_) => return Err("endpoint port must be a number".into()),
    };
    let port = port.or_else(|| {
        protocol
            .as_deref()
            .and_then(crate::domain::report::default_port)
    });
    let strip = |s: Option<String>, c: char| {
        s.map(|v| v.strip_prefix(c).map(str::to_string).unwrap_or(v))
            .filter(|v| !v.is_empty())
    };
    Ok(Endpoint {
        protocol,
        userinfo: text("userinfo")?,
        host: text("host")?.map(|h| h.to_ascii_lowercase()),
        port,
        path: strip(text("path")?, '/'),
        query: strip(text("query")?, '?'),
        fragment: strip(text("fragment")?, '#'),
    })
}

fn json_files(value: Option<&Value>) -> Result<Vec<ReportFile>, ParseError> {
    let items = match value {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ParseError::new("files must be a list").at("files")),
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let at = format!("files[{i}]");
        let Value::Object(o) = item else {
            return Err(ParseError::new("a file is an object with title and data").at(at));
        };
        let title = match o.get("title") {
            None | Some(Value::Null) => "<No title>".to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(ParseError::new("a file title must be a string").at(at)),
        };
        let Some(Value::String(data)) = o.get("data") else {
            return Err(ParseError::new("a file needs its data (base64)").at(at));
        };
        let compact: String = data.split_whitespace().collect();
        let data = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|e| ParseError::new(format!("file data is not base64: {e}")).at(at))?;
        out.push(ReportFile { title, data });
    }
    Ok(out)
}

fn parse_csv(text: &str) -> Result<ParsedReport, ParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(&e, "the CSV header cannot be read"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    for required in ["Title", "Description", "Date", "Severity"] {
        if column(required).is_none() {
            return Err(ParseError::new(format!("the CSV has no {required} column")).at("line 1"));
        }
    }
    // Folded findings in first-seen order, keyed by severity|title|description.
    let mut order: Vec<ParsedFinding> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => return Err(csv_error(&e, "invalid CSV")),
        }
        let line = record.position().map_or(0, |p| p.line());
        let at = |col: &str| format!("line {line}, column {col}");
        // `Some` when the column exists (its cell may be empty), as DefectDojo's `in row`.
        let cell = |name: &str| column(name).map(|i| record.get(i).unwrap_or(""));
        let filled = |name: &str| cell(name).filter(|v| !v.trim().is_empty());
        let title = cell("Title").unwrap_or_default().to_string();
        let description = cell("Description").unwrap_or_default().to_string();
        let raw_severity = cell("Severity").unwrap_or_default();
        // DefectDojo takes its five exact spellings and makes anything else Info.
        let severity = match raw_severity.trim() {
            "Critical" => Severity::Critical,
            "High" => Severity::High,
            "Medium" => Severity::Medium,
            "Low" => Severity::Low,
            other => Severity::parse_loose(other).unwrap_or(Severity::Info),
        };
        let date_text = cell("Date").unwrap_or_default();
        let date = parse_date(date_text).ok_or_else(|| {
            ParseError::new(format!("{date_text:?} is not a date")).at(at("Date"))
        })?;
        let mut f = ParsedFinding::new(title, severity, description);
        f.date = Some(date);
        f.nb_occurences = Some(1);
        if let Some(v) = cell("Active") {
            f.active = Some(convert_bool(v));
        }
        if let Some(v) = cell("IsMitigated") {
            f.is_mitigated = Some(convert_bool(v));
        }
        if let Some(v) = filled("MitigatedDate") {
            f.mitigated = Some(parse_datetime(v).ok_or_else(|| {
                ParseError::new(format!("{v:?} is not a date")).at(at("MitigatedDate"))
            })?);
        }
        f.mitigation = filled("Mitigation").map(str::to_string);
        f.impact = filled("Impact").map(str::to_string);
        f.references = filled("References").map(str::to_string);
        if let Some(v) = cell("Verified") {
            f.verified = Some(convert_bool(v));
        }
        if let Some(v) = cell("FalsePositive") {
            f.false_p = Some(convert_bool(v));
        }
        if let Some(v) = filled("CVE") {
            f.vulnerability_ids.push(v.trim().to_string());
        }
        if let Some(v) = filled("Vulnerability Id") {
            push_unique(&mut f.vulnerability_ids, v.trim().to_string());
        }
        if let Some(v) = filled("CweId") {
            f.cwe = Some(cwe_number(v).ok_or_else(|| {
                ParseError::new(format!("{v:?} is not a CWE number")).at(at("CweId"))
            })?);
        }
        let extra = filled("CweIds").map(parse_cwes).unwrap_or_default();
        if f.cwe.is_none() {
            f.cwe = extra.first().copied();
        }
        f.cwes.extend(f.cwe);
        for c in extra {
            push_unique(&mut f.cwes, c);
        }
        let float = |name: &str| -> Result<Option<f64>, ParseError> {
            filled(name)
                .map(|v| {
                    v.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite())
                        .ok_or_else(|| {
                            ParseError::new(format!("{v:?} is not a number")).at(at(name))
                        })
                })
                .transpose()
        };
        f.epss_score = float("epss_score")?;
        f.epss_percentile = float("epss_percentile")?;
        f.cvssv4_score = float("CVSSV4_score")?;
        f.cvssv3 = filled("CVSSV3")
            .and_then(find_cvss3)
            .map(|c| c.clean_vector());
        f.cvssv4 = filled("CVSSV4").and_then(find_cvss4);
        if let Some(v) = cell("known_exploited") {
            f.known_exploited = Some(loose_bool(v).unwrap_or_else(|| convert_bool(v)));
        }
        if let Some(v) = cell("fix_available") {
            f.fix_available = Some(loose_bool(v).unwrap_or_else(|| convert_bool(v)));
        }
        f.fix_version = filled("fix_version").map(str::to_string);
        if let Some(url) = filled("Url") {
            f.endpoints
                .push(endpoint_from_str(url).map_err(|m| ParseError::new(m).at(at("Url")))?);
        }

        let key = format!("{}|{}|{}", severity_label(severity), f.title, f.description);
        match index.get(&key) {
            Some(&i) => {
                let first = &mut order[i];
                first.endpoints.append(&mut f.endpoints);
                for id in f.vulnerability_ids {
                    push_unique(&mut first.vulnerability_ids, id);
                }
                for c in f.cwes {
                    push_unique(&mut first.cwes, c);
                }
                first.nb_occurences = Some(first.nb_occurences.unwrap_or(1) + 1);
            }
            None => {
                index.insert(key, order.len());
                order.push(f);
            }
        }
    }
    Ok(ParsedReport {
        findings: order,
        tool_version: None,
    })
}

fn severity_label(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

fn csv_error(e: &csv::Error, what: &str) -> ParseError {
    let err = ParseError::new(format!("{what}: {e}"));
    match e.position() {
        Some(p) => err.at(format!("line {}", p.line())),
        None => err,
    }
}

#[cfg(test)]
mod tests {
    use super::super::robustness::{never_panics, sample};
    use super::*;

    fn parse(text: &str, name: &str) -> Result<ParsedReport, ParseError> {
        GenericParser.parse(text.as_bytes(), Some(name))
    }

    #[test]
    fn content_decides_json_or_csv() {
        let json = r#"{"findings":[{"title":"t","severity":"low","description":"d"}]}"#;
        assert_eq!(parse(json, "report.csv").unwrap().findings.len(), 1);
        let csv = "Title,Description,Date,Severity\nt,d,2021-01-01,High\n";
        assert_eq!(parse(csv, "report.json").unwrap().findings.len(), 1);
        assert!(parse("", "x.json").is_err());
        assert!(parse("  \n", "x.csv").unwrap().findings.is_empty());
    }

    #[test]
    fn json_errors_say_what_and_where() {
        let e = parse(r#"{"findings":[{"title":"t","severity":"Low"}]}"#, "x.json").unwrap_err();
        assert_eq!(e.message, "Required fields are missing: ['description']");
        assert_eq!(e.at.as_deref(), Some("findings[0]"));
        let e = parse(
            r#"{"findings":[{},{"title":"t","severity":"Low","description":"d","x":1}]}"#,
            "x.json",
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Required fields are missing: ['description', 'severity', 'title']"
        );
        let e = parse(
            r#"{"findings":[{"title":"t","severity":"Bad","description":"d"}]}"#,
            "x.json",
        )
        .unwrap_err();
        assert_eq!(e.at.as_deref(), Some("findings[0].severity"));
        let e = parse(
            r#"{"findings":[{"title":"t","severity":"Low","description":"d","endpoints":["http://"]}]}"#,
            "x.json",
        )
        .unwrap_err();
        assert_eq!(e.at.as_deref(), Some("findings[0].endpoints[0]"));
        let e = parse("{\"findings\": [", "x.json").unwrap_err();
        assert!(e.at.unwrap().starts_with("line 1"));
        assert!(parse("[1]", "x.json").is_err());
        assert!(parse(r#"{"findings":{}}"#, "x.json").is_err());
        assert!(
            parse(
                r#"{"findings":[{"title":"t","severity":"Low","description":"d","line":"x"}]}"#,
                "x.json"
            )
            .is_err()
        );
    }

    #[test]
    fn json_documented_fields() {
        let json = r#"{"name":"n","version":"1.2","findings":[{
            "title":"t","severity":"critical","description":"d",
            "cve":"CVE-1","vulnerability_ids":["GHSA-1","CVE-1"],
            "cwe":"CWE-79","cwes":["CWE-89", 79],
            "files":[{"title":"shot","data":"aGVsbG8="}],
            "endpoints":[{"protocol":"HTTPS","host":"Ex.com","path":"/a"}, "ftp://h"],
            "line":"12","epss_score":"0.5","known_exploited":"true","mitigated":"2024-01-24T11:02:11+01:00",
            "publish_date":"2020-01-02","out_of_scope":false,"kev_date":null}]}"#;
        let r = parse(json, "g.json").unwrap();
        assert_eq!(r.tool_version.as_deref(), Some("1.2"));
        let f = &r.findings[0];
        assert_eq!(f.severity, Severity::Critical);
        assert_eq!(f.vulnerability_ids, ["CVE-1", "GHSA-1"]);
        assert_eq!((f.cwe, f.cwes.clone()), (Some(79), vec![79, 89]));
        assert_eq!(f.files[0].data, b"hello");
        assert_eq!(f.endpoints[0].port, Some(443));
        assert_eq!(f.endpoints[0].host.as_deref(), Some("ex.com"));
        assert_eq!(f.endpoints[0].path.as_deref(), Some("a"));
        assert_eq!(f.endpoints[1].port, Some(21));
        assert_eq!(f.line, Some(12));
        assert_eq!(f.epss_score, Some(0.5));
        assert_eq!(f.known_exploited, Some(true));
        assert_eq!(
            f.mitigated.unwrap().to_rfc3339(),
            "2024-01-24T10:02:11+00:00"
        );
        let bad = r#"{"findings":[{"title":"t","severity":"Low","description":"d","files":[{"data":"!!"}]}]}"#;
        assert_eq!(
            parse(bad, "g.json").unwrap_err().at.as_deref(),
            Some("findings[0].files[0]")
        );
    }

    #[test]
    fn csv_folds_rows_and_reads_columns() {
        let csv = "Date,Title,CweId,CweIds,Url,Severity,Description,CVE,Vulnerability Id,CVSSV3,known_exploited,fix_available,fix_version,epss_score,MitigatedDate,IsMitigated\n\
            01/02/2021,A,,79 89,h.com/x,Unknown,d,,GHSA-1,\"x CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H\",FALSE,TRUE,1.2,,,FALSE\n\
            01/02/2021,A,,89 20,https://h.com/y,Unknown,d,CVE-2,GHSA-1,,FALSE,TRUE,,0.1,,FALSE\n\
            2021-02-03,B,7,,,High,d,,,,,,,,2021-03-01,TRUE\n";
        let r = parse(csv, "g.csv").unwrap();
        assert_eq!(r.findings.len(), 2);
        let a = &r.findings[0];
        assert_eq!(a.severity, Severity::Info);
        assert_eq!(a.date.unwrap().to_string(), "2021-01-02");
        assert_eq!(a.nb_occurences, Some(2));
        assert_eq!(a.endpoints.len(), 2);
        assert_eq!(a.vulnerability_ids, ["GHSA-1", "CVE-2"]);
        assert_eq!((a.cwe, a.cwes.clone()), (Some(79), vec![79, 89, 20]));
        assert_eq!(
            a.cvssv3.as_deref(),
            Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H")
        );
        assert_eq!(a.known_exploited, Some(false));
        assert_eq!(
            (a.fix_available, a.fix_version.as_deref()),
            (Some(true), Some("1.2"))
        );
        assert_eq!(a.mitigated, None);
        let b = &r.findings[1];
        assert_eq!((b.cwe, b.is_mitigated), (Some(7), Some(true)));
        assert!(b.mitigated.is_some());
    }

    #[test]
    fn csv_errors_say_where() {
        let e = parse("Title,Description,Severity\n", "g.csv").unwrap_err();
        assert!(e.message.contains("Date"));
        let e = parse(
            "Title,Description,Date,Severity\nt,d,2021-01-01,Low\nt,d,nope,Low\n",
            "g.csv",
        )
        .unwrap_err();
        assert_eq!(e.at.as_deref(), Some("line 3, column Date"));
        let e = parse(
            "Title,Description,Date,Severity,CweId\nt,d,2021-01-01,Low,abc\n",
            "g.csv",
        )
        .unwrap_err();
        assert_eq!(e.at.as_deref(), Some("line 2, column CweId"));
        let _ = parse(
            "Title,Description,Date,Severity
\"t,d",
            "g.csv",
        );
    }

    #[test]
    fn large_csv_folds_quickly() {
        let mut csv = String::from("Title,Description,Date,Severity,Url\n");
        for i in 0..50_000 {
            csv.push_str(&format!("T{},d,2021-01-01,Low,https://h/{i}\n", i % 10));
        }
        let r = parse(&csv, "big.csv").unwrap();
        assert_eq!(r.findings.len(), 10);
        assert_eq!(r.findings[0].nb_occurences, Some(5_000));
        assert_eq!(r.findings[0].endpoints.len(), 5_000);
    }

    #[test]
    fn never_panics_on_damaged_samples() {
        let files = [
            "generic/generic_report1.json",
            "generic/generic_report3.json",
            "generic/generic_report4.json",
            "generic/generic_report1.csv",
            "generic/generic_report3.csv",
        ];
        let data: Vec<(&str, Vec<u8>)> = files.iter().map(|f| (*f, sample(f))).collect();
        let samples: Vec<(&str, &[u8])> = data.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        never_panics(&GenericParser, &samples, 300);
        // Deep nesting stops at serde_json's recursion limit.
        let deep = format!(
            "{{\"findings\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(parse(&deep, "x.json").is_err());
    }
}
