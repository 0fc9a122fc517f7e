//! Parser fidelity, driven by `tests/fixtures/scans/manifest.json`: for every sample report of a
//! registered scan type, the number of findings and every field value DefectDojo's own parser
//! tests assert, and the files DefectDojo rejects. Pure: no database.

use std::path::PathBuf;

use dojoql::{domain::report::ParsedFinding, import::parsers};
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scans")
}

fn manifest() -> Vec<Value> {
    let raw = std::fs::read_to_string(fixtures().join("manifest.json")).unwrap();
    serde_json::from_str(&raw).unwrap()
}

/// A parsed finding as DefectDojo's tests see a `Finding` before it is saved: model defaults
/// applied (active, not verified, …), severity in DefectDojo's spelling, `cve` the first
/// vulnerability id, `scanner_confidence_text` derived.
fn as_defectdojo(f: &ParsedFinding) -> Value {
    let mut v = serde_json::to_value(f).unwrap();
    let o = v.as_object_mut().unwrap();
    let severity = match f.severity {
        dojoql::domain::Severity::Critical => "Critical",
        dojoql::domain::Severity::High => "High",
        dojoql::domain::Severity::Medium => "Medium",
        dojoql::domain::Severity::Low => "Low",
        dojoql::domain::Severity::Info => "Info",
    };
    o.insert("severity".into(), json!(severity));
    o.insert("cve".into(), json!(f.vulnerability_ids.first()));
    o.insert("duplicate".into(), json!(false));
    o.insert(
        "scanner_confidence_text".into(),
        json!(f.scanner_confidence_text()),
    );
    for (field, default) in [
        ("active", true),
        ("verified", false),
        ("false_p", false),
        ("is_mitigated", false),
        ("known_exploited", false),
    ] {
        if o[field].is_null() {
            o.insert(field.into(), json!(default));
        }
    }
    // DefectDojo's `cwe` is 0 when unknown.
    if o["cwe"].is_null() {
        o.insert("cwe".into(), json!(0));
    }
    v
}

/// The value at a check's field path (`endpoints[0].host`).
fn field<'a>(finding: &'a Value, path: &str) -> &'a Value {
    let mut at = finding;
    for part in path.split('.') {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        at = &at[name];
        if let Some(i) = index {
            at = &at[i];
        }
    }
    at
}

/// Whether two check values are equal: dates compare by their date part, numbers numerically,
/// strings and lists as they are. An expected `null` ("absent", DefectDojo's `None`) matches an
/// empty list: `ParsedFinding` keeps its list fields (`vulnerability_ids`, `cwes`, `tags`, …) as
/// plain lists, where "none" is the empty one.
fn same(actual: &Value, expected: &Value) -> bool {
    match (actual, expected) {
        (Value::Array(items), Value::Null) => items.is_empty(),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) if b.len() == 10 && a.len() > 10 => {
            a.starts_with(b.as_str())
        }
        _ => actual == expected,
    }
}

fn check(findings: &[Value], c: &Value) -> Result<(), String> {
    let finding = if let Some(i) = c.get("index").and_then(Value::as_u64) {
        findings
            .get(i as usize)
            .ok_or_else(|| format!("no finding {i}"))?
    } else {
        let wanted = c["match"].as_object().unwrap();
        findings
            .iter()
            .find(|f| wanted.iter().all(|(k, v)| same(field(f, k), v)))
            .ok_or_else(|| format!("no finding matches {}", c["match"]))?
    };
    let name = c["field"].as_str().unwrap();
    let actual = field(finding, name);
    let expected = &c["value"];
    let ok = match c.get("op").and_then(Value::as_str).unwrap_or("eq") {
        "eq" => same(actual, expected),
        "contains" => match actual {
            Value::Array(items) => items.iter().any(|i| same(i, expected)),
            Value::String(s) => s.contains(expected.as_str().unwrap_or("\0")),
            _ => false,
        },
        "len" => actual.as_array().map(|a| a.len() as u64) == expected.as_u64(),
        other => return Err(format!("unknown op {other}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("{name}: expected {expected}, got {actual} ({c})"))
    }
}

/// What went wrong with one manifest entry, or nothing.
fn verify(entry: &Value) -> Option<String> {
    let scan_type = entry["scan_type"].as_str().unwrap();
    let parser = parsers::by_scan_type(scan_type)?;
    let file = entry["file"].as_str().unwrap();
    let bytes = std::fs::read(fixtures().join(file)).unwrap();
    let name = file.rsplit('/').next();
    let parsed =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(&bytes, name)));
    let parsed = match parsed {
        Ok(p) => p,
        Err(_) => return Some(format!("{file}: the parser panicked")),
    };
    if entry["expect_error"].as_bool() == Some(true) {
        return match parsed {
            Err(_) => None,
            Ok(r) => Some(format!(
                "{file}: expected an error, got {} findings",
                r.findings.len()
            )),
        };
    }
    let report = match parsed {
        Ok(r) => r,
        Err(e) => return Some(format!("{file}: {e}")),
    };
    let expected = entry
        .get("expected_findings_by_scan_type")
        .and_then(|m| m.get(scan_type))
        .or(entry.get("expected_findings"))
        .and_then(Value::as_u64);
    let findings: Vec<Value> = report.findings.iter().map(as_defectdojo).collect();
    if let Some(n) = expected
        && findings.len() as u64 != n
    {
        return Some(format!("{file}: {} findings, expected {n}", findings.len()));
    }
    let failures: Vec<String> = entry["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| check(&findings, c).err())
        .collect();
    (!failures.is_empty()).then(|| format!("{file}:\n  {}", failures.join("\n  ")))
}

#[test]
fn registered_parsers_reproduce_defectdojo_on_every_sample() {
    let entries = manifest();
    let failures: Vec<String> = entries.iter().filter_map(verify).collect();
    let covered = entries
        .iter()
        .filter(|e| parsers::by_scan_type(e["scan_type"].as_str().unwrap()).is_some())
        .count();
    eprintln!(
        "parsers: {covered} of {} sample files have a registered parser",
        entries.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_fixture_is_in_the_manifest() {
    let listed: Vec<String> = manifest()
        .iter()
        .map(|e| e["file"].as_str().unwrap().to_string())
        .collect();
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let f = f.unwrap().path();
            let rel = f
                .strip_prefix(fixtures())
                .unwrap()
                .to_string_lossy()
                .to_string();
            assert!(listed.contains(&rel), "{rel} is not in manifest.json");
        }
    }
}
