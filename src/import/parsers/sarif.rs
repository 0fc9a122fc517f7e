//! SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format), as DefectDojo's
//! `dojo/tools/sarif/parser.py` reads it: every run's results of kind `fail`, one finding per
//! location (one without a location when the result has none); the rule found by id or index,
//! in the driver or an extension; title from the result message (else the rule's descriptions,
//! name, id), shortened to 150 characters like `textwrap.shorten`; description composed of the
//! result message, the location's snippet, the rule's name and descriptions and the code flows;
//! severity from the level (note → Info, warning → Medium, error → High, else Medium) or the
//! rule's `security-severity` property (a CVSS score, which also becomes `cvssv3_score`); CWE
//! from rule relationships, rule `cwe` property or tags, result `cwe` property and CWE taxa;
//! `unique_id_from_tool` from `fingerprints` (the newest version of the first method) or
//! `partialFingerprints` (all methods, sorted, `key:value|…`); `vuln_id_from_tool` the rule id
//! and a CVE in it the vulnerability id; fixes as mitigation; the last invocation's end time as
//! date; rule and result tags; suppressed results as false positives.
//!
//! Where this does better than DefectDojo, on purpose:
//! - a fingerprint value that is an object (`{"value": "…"}`) gives its `value` string;
//! - rules are found by `ruleIndex`, `rule.index`/`rule.id` and in every extension, not only by
//!   `ruleId` in the driver (or the first extension when the driver has none);
//! - message arguments fill every `{n}` placeholder (DefectDojo stops at six and then loses the
//!   message), and in `text` messages too;
//! - every thread flow of every code flow is described (DefectDojo keeps only the last one);
//! - a suppression whose status is `rejected` or `underReview` does not suppress (SARIF §3.35);
//! - level `none` is Info; relationships to the CWE taxonomy by bare number count; an
//!   `artifactLocation` given by index is resolved through `run.artifacts`;
//! - missing pieces (no `startLine`, a fix without description, a message id the rule does not
//!   define) are skipped instead of failing the whole import.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value, value::RawValue};

use super::common::{find_cve, find_cwe, parse_date, push_unique, shorten};
use super::{ParseError, Parser, Sink, within};
use crate::domain::Severity;
use crate::domain::report::ParsedFinding;

pub struct SarifParser;

impl Parser for SarifParser {
    fn scan_type(&self) -> &'static str {
        "SARIF"
    }

    fn parse_each(
        &self,
        bytes: &[u8],
        _file_name: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<Option<String>, ParseError> {
        let text = super::text(bytes)?;
        if text.trim().is_empty() {
            return Err(ParseError::new("the SARIF file is empty"));
        }
        if !text.trim_start().starts_with('{') {
            return Err(ParseError::new(
                "a SARIF log is a JSON object with \"runs\"",
            ));
        }
        // Results stay unparsed slices of the input until their run is complete (a run's rules
        // may follow its results); each is then read, turned into findings and dropped.
        let log: Log<'_> = serde_json::from_str(text)?;
        for (r, run) in log.runs.iter().enumerate() {
            run_findings(text, run, sink).map_err(|e| {
                let inner = e.at.clone().unwrap_or_default();
                e.at(format!("runs[{r}]{inner}"))
            })?;
        }
        Ok(log.runs.first().and_then(|r| r.tool.driver.version.clone()))
    }
}

/// `null` read as the type's default (SARIF writers emit `"partialFingerprints": null`).
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Log<'a> {
    #[serde(borrow, deserialize_with = "nullable")]
    runs: Vec<Run<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    #[serde(borrow, deserialize_with = "nullable")]
    results: Vec<&'a RawValue>,
    #[serde(deserialize_with = "nullable")]
    invocations: Vec<Invocation>,
    #[serde(deserialize_with = "nullable")]
    artifacts: Vec<Artifact>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Tool {
    driver: Component,
    #[serde(deserialize_with = "nullable")]
    extensions: Vec<Component>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Component {
    name: Option<String>,
    version: Option<String>,
    #[serde(deserialize_with = "nullable")]
    rules: Vec<Rule>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Rule {
    id: Option<String>,
    name: Option<String>,
    short_description: Option<Message>,
    full_description: Option<Message>,
    help: Option<Message>,
    help_uri: Option<String>,
    #[serde(deserialize_with = "nullable")]
    message_strings: HashMap<String, Message>,
    default_configuration: Option<Configuration>,
    #[serde(deserialize_with = "nullable")]
    properties: Map<String, Value>,
    relationships: Option<Vec<Relationship>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Relationship {
    target: Option<Descriptor>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Descriptor {
    id: Option<Value>,
    tool_component: Option<ComponentRef>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ComponentRef {
    name: Option<String>,
    index: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Configuration {
    level: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
struct Message {
    text: Option<String>,
    markdown: Option<String>,
    id: Option<String>,
    #[serde(deserialize_with = "nullable")]
    arguments: Vec<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct SarifResult {
    rule_id: Option<String>,
    rule_index: Option<i64>,
    rule: Option<RuleRef>,
    kind: Option<String>,
    level: Option<String>,
    message: Option<Message>,
    #[serde(deserialize_with = "nullable")]
    locations: Vec<Location>,
    #[serde(deserialize_with = "nullable")]
    code_flows: Vec<CodeFlow>,
    fixes: Option<Vec<Fix>>,
    #[serde(deserialize_with = "nullable")]
    suppressions: Vec<Suppression>,
    fingerprints: Option<Ordered>,
    partial_fingerprints: Option<Ordered>,
    #[serde(deserialize_with = "nullable")]
    properties: Map<String, Value>,
    #[serde(deserialize_with = "nullable")]
    taxa: Vec<Descriptor>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RuleRef {
    id: Option<String>,
    index: Option<i64>,
    tool_component: Option<ComponentRef>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Location {
    physical_location: Option<PhysicalLocation>,
    message: Option<Message>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: Option<ArtifactLocation>,
    region: Option<Region>,
    context_region: Option<Region>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ArtifactLocation {
    uri: Option<String>,
    index: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Region {
    start_line: Option<i64>,
    start_column: Option<i64>,
    byte_offset: Option<Value>,
    snippet: Option<Snippet>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Snippet {
    text: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct CodeFlow {
    #[serde(deserialize_with = "nullable")]
    thread_flows: Vec<ThreadFlow>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ThreadFlow {
    locations: Option<Vec<ThreadFlowLocation>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ThreadFlowLocation {
    location: Option<Location>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Fix {
    description: Option<Message>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Suppression {
    status: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Invocation {
    end_time_utc: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Artifact {
    location: Option<ArtifactLocation>,
    index: Option<i64>,
}

/// A JSON object with its keys in document order (fingerprints: "the first method" is the
/// first written).
#[derive(Default)]
struct Ordered(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// The rules of a run's driver (0) and extensions (1…), with their ids.
struct Rules<'a> {
    components: Vec<(&'a [Rule], HashMap<&'a str, usize>)>,
}

impl<'a> Rules<'a> {
    fn new(tool: &'a Tool) -> Self {
        let components = std::iter::once(&tool.driver)
            .chain(tool.extensions.iter())
            .map(|c| {
                let mut ids = HashMap::new();
                for (i, r) in c.rules.iter().enumerate() {
                    if let Some(id) = r.id.as_deref() {
                        ids.entry(id).or_insert(i);
                    }
                }
                (c.rules.as_slice(), ids)
            })
            .collect();
        Rules { components }
    }

    fn find(&self, result: &SarifResult) -> Option<&'a Rule> {
        let component = result
            .rule
            .as_ref()
            .and_then(|r| r.tool_component.as_ref())
            .and_then(|c| c.index)
            .and_then(|i| usize::try_from(i).ok())
            .map_or(0, |i| i + 1);
        let id = result
            .rule_id
            .as_deref()
            .or(result.rule.as_ref().and_then(|r| r.id.as_deref()));
        if let Some(id) = id {
            let by_id = |id: &str| {
                std::iter::once(component)
                    .chain(0..self.components.len())
                    .filter_map(|c| self.components.get(c))
                    .find_map(|(rules, ids)| ids.get(id).map(|i| &rules[*i]))
            };
            if let Some(rule) = by_id(id) {
                return Some(rule);
            }
            // A hierarchical id ("C2001/uninitialized") names a sub-rule of "C2001".
            if let Some((base, _)) = id.split_once('/')
                && let Some(rule) = by_id(base)
            {
                return Some(rule);
            }
        }
        let index = result
            .rule_index
            .or(result.rule.as_ref().and_then(|r| r.index))?;
        let (rules, _) = self.components.get(component)?;
        rules.get(usize::try_from(index).ok()?)
    }
}

fn run_findings(text: &str, run: &Run<'_>, sink: &mut Sink<'_>) -> Result<(), ParseError> {
    let rules = Rules::new(&run.tool);
    let date = run
        .invocations
        .last()
        .and_then(|i| i.end_time_utc.as_deref())
        .and_then(parse_date);
    let mut findings = Vec::new();
    for (i, raw) in run.results.iter().enumerate() {
        let result: SarifResult = serde_json::from_str(raw.get()).map_err(|e| {
            let e = within(text, raw.get(), e);
            let at = e.at.clone().unwrap_or_default();
            e.at(format!(".results[{i}], {at}"))
        })?;
        result_findings(&result, &rules, run, date, &mut findings)
            .map_err(|e| e.at(format!(".results[{i}]")))?;
        for f in findings.drain(..) {
            sink(f)?;
        }
    }
    Ok(())
}

/// A message's text: a rule message string by id with its arguments filled in, else its text
/// (or Markdown).
fn message_text(message: &Message, rule: Option<&Rule>) -> Option<String> {
    let template = match (&message.id, rule) {
        (Some(id), Some(rule)) => rule
            .message_strings
            .get(id)
            .and_then(|m| m.text.clone().or_else(|| m.markdown.clone())),
        _ => None,
    };
    let text = template
        .or_else(|| message.text.clone())
        .or_else(|| message.markdown.clone())?;
    if message.arguments.is_empty() {
        return Some(text);
    }
    Some(fill_placeholders(&text, &message.arguments))
}

/// `{n}` replaced by argument n (`{{`/`}}` are literal braces), as SARIF §3.11.5 says.
fn fill_placeholders(text: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let after = &rest[i..];
        if after.starts_with("{{") || after.starts_with("}}") {
            out.push_str(&after[..1]);
            rest = &after[2..];
            continue;
        }
        if after.starts_with('{')
            && let Some(end) = after.find('}')
            && let Ok(n) = after[1..end].parse::<usize>()
            && let Some(arg) = args.get(n)
        {
            match arg {
                Value::String(s) => out.push_str(s),
                other => out.push_str(&other.to_string()),
            }
            rest = &after[end + 1..];
            continue;
        }
        out.push_str(&after[..1]);
        rest = &after[1..];
    }
    out.push_str(rest);
    out
}

fn snippet(location: Option<&Location>) -> Option<&str> {
    let physical = location?.physical_location.as_ref()?;
    fn of(r: Option<&Region>) -> Option<&str> {
        r?.snippet.as_ref()?.text.as_deref()
    }
    of(physical.region.as_ref()).or_else(|| of(physical.context_region.as_ref()))
}

fn artifact_uri<'a>(run: &'a Run<'_>, location: &'a ArtifactLocation) -> Option<&'a str> {
    if let Some(uri) = location.uri.as_deref() {
        return Some(uri);
    }
    let index = usize::try_from(location.index?).ok()?;
    run.artifacts
        .iter()
        .enumerate()
        .find(|(i, a)| a.index.map_or(*i == index, |x| x == index as i64))
        .and_then(|(_, a)| a.location.as_ref()?.uri.as_deref())
}

fn code_flows(run: &Run<'_>, flows: &[CodeFlow]) -> String {
    let mut out = String::new();
    for flow in flows {
        for thread in &flow.thread_flows {
            let Some(locations) = &thread.locations else {
                continue;
            };
            out.push_str("**Code flow:**\n");
            for (n, tfl) in locations.iter().enumerate() {
                let location = tfl.location.as_ref();
                let physical = location.and_then(|l| l.physical_location.as_ref());
                let region = physical.and_then(|p| p.region.as_ref());
                let uri = physical
                    .and_then(|p| p.artifact_location.as_ref())
                    .and_then(|a| artifact_uri(run, a))
                    .unwrap_or("");
                out.push_str(&format!("{}. {uri}", n + 1));
                if let Some(l) = region.and_then(|r| r.start_line) {
                    out.push_str(&format!(":L{l}"));
                }
                if let Some(c) = region.and_then(|r| r.start_column) {
                    out.push_str(&format!(":C{c}"));
                }
                if let Some(s) = region
                    .and_then(|r| r.snippet.as_ref())
                    .and_then(|s| s.text.as_deref())
                {
                    out.push_str(&format!("\t-\t{s}"));
                }
                out.push('\n');
                if let Some(m) = location.and_then(|l| l.message.as_ref()) {
                    let text = m.markdown.as_deref().or(m.text.as_deref()).unwrap_or("");
                    out.push_str(&format!("\t{text}\n"));
                }
            }
        }
    }
    out
}

fn description(
    run: &Run<'_>,
    result: &SarifResult,
    rule: Option<&Rule>,
    message: Option<&str>,
    location: Option<&Location>,
) -> String {
    let mut d = String::new();
    if let Some(m) = message {
        d.push_str(&format!("**Result message:** {m}\n"));
    }
    if let Some(s) = snippet(location) {
        d.push_str(&format!("**Snippet:**\n```\n{s}\n```\n"));
    }
    let message = message.unwrap_or("");
    if let Some(rule) = rule {
        if let Some(name) = &rule.name {
            d.push_str(&format!("**Rule name:** {name}\n"));
        }
        let short = rule
            .short_description
            .as_ref()
            .and_then(|m| message_text(m, Some(rule)));
        if let Some(s) = &short
            && s != message
        {
            d.push_str(&format!("**Rule short description:** {s}\n"));
        }
        if let Some(full) = rule
            .full_description
            .as_ref()
            .and_then(|m| message_text(m, Some(rule)))
            && full != message
            && Some(&full) != short.as_ref()
        {
            d.push_str(&format!("**Rule full description:** {full}\n"));
        }
    }
    d.push_str(&code_flows(run, &result.code_flows));
    if d.ends_with('\n') {
        d.pop();
    }
    d
}

fn level_severity(level: Option<&str>) -> Severity {
    match level {
        Some("note") | Some("none") => Severity::Info,
        Some("error") => Severity::High,
        _ => Severity::Medium,
    }
}

/// DefectDojo's reading of a CVSS score: ≥ 9 Critical, ≥ 7 High, ≥ 4 Medium, > 0 Low, else Info.
fn cvss_severity(score: f64) -> Severity {
    if score >= 9.0 {
        Severity::Critical
    } else if score >= 7.0 {
        Severity::High
    } else if score >= 4.0 {
        Severity::Medium
    } else if score > 0.0 {
        Severity::Low
    } else {
        Severity::Info
    }
}

fn value_strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The rule's CWEs, from the first source that has any kind of entry: relationships, the `cwe`
/// property, tags.
fn rule_cwes(rule: &Rule) -> Vec<i32> {
    let mut cwes = Vec::new();
    if let Some(relationships) = &rule.relationships {
        for r in relationships {
            let Some(target) = &r.target else { continue };
            let id = match &target.id {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => continue,
            };
            let is_cwe_taxonomy = target
                .tool_component
                .as_ref()
                .and_then(|c| c.name.as_deref())
                .is_some_and(|n| n.eq_ignore_ascii_case("CWE"));
            let found = find_cwe(&id).or_else(|| {
                is_cwe_taxonomy
                    .then(|| id.trim().parse::<i32>().ok())
                    .flatten()
            });
            cwes.extend(found);
        }
        return cwes;
    }
    if let Some(v) = rule.properties.get("cwe") {
        cwes.extend(value_strings(v).into_iter().filter_map(find_cwe));
        return cwes;
    }
    if let Some(tags) = rule.properties.get("tags") {
        cwes.extend(value_strings(tags).into_iter().filter_map(find_cwe));
    }
    cwes
}

fn taxa_cwes(result: &SarifResult) -> Vec<i32> {
    result
        .taxa
        .iter()
        .filter(|t| {
            t.tool_component
                .as_ref()
                .and_then(|c| c.name.as_deref())
                .is_some_and(|n| n == "CWE")
        })
        .filter_map(|t| match &t.id {
            Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            Some(Value::String(s)) => s
                .trim()
                .parse::<i32>()
                .ok()
                .or_else(|| find_cwe(&format!("CWE-{s}"))),
            _ => None,
        })
        .collect()
}

/// A fingerprint value as text: a string, an object's `value` string, else its JSON.
fn fingerprint_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => fingerprint_text(other),
            None => v.to_string(),
        },
        other => other.to_string(),
    }
}

/// DefectDojo's `get_fingerprints_hashes`: per method (`name/v3` → `name`), the value of its
/// highest version, methods in document order.
fn fingerprint_methods(values: &Ordered) -> Vec<(String, String)> {
    let mut methods: Vec<(String, i64, String)> = Vec::new();
    for (key, value) in &values.0 {
        let (method, version) = match key.rsplit_once('/') {
            Some((head, v)) => {
                let method = head.rsplit('/').next().unwrap_or(head);
                (method, v.replace('v', "").parse::<i64>().unwrap_or(0))
            }
            None => (key.as_str(), 0),
        };
        let text = fingerprint_text(value);
        match methods.iter_mut().find(|(m, _, _)| m == method) {
            Some(entry) => {
                if entry.1 < version {
                    entry.1 = version;
                    entry.2 = text;
                }
            }
            None => methods.push((method.to_string(), version, text)),
        }
    }
    methods.into_iter().map(|(m, _, v)| (m, v)).collect()
}

fn unique_id(result: &SarifResult) -> Option<String> {
    if let Some(f) = result.fingerprints.as_ref().filter(|f| !f.0.is_empty()) {
        return fingerprint_methods(f).into_iter().next().map(|(_, v)| v);
    }
    let partial = result
        .partial_fingerprints
        .as_ref()
        .filter(|f| !f.0.is_empty())?;
    let mut methods = fingerprint_methods(partial);
    methods.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        methods
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join("|"),
    )
}

fn tags(props: &Map<String, Value>, out: &mut Vec<String>) {
    if let Some(Value::Array(items)) = props.get("tags") {
        for tag in items.iter().filter_map(Value::as_str) {
            let tag = tag.strip_prefix("external/cwe/").unwrap_or(tag);
            push_unique(out, tag.to_string());
        }
    }
}

fn result_findings(
    result: &SarifResult,
    rules: &Rules<'_>,
    run: &Run<'_>,
    date: Option<chrono::NaiveDate>,
    out: &mut Vec<ParsedFinding>,
) -> Result<(), ParseError> {
    if result.kind.as_deref().unwrap_or("fail") != "fail" {
        return Ok(());
    }
    let rule = rules.find(result);
    let suppressed = result
        .suppressions
        .iter()
        .any(|s| !matches!(s.status.as_deref(), Some("rejected" | "underReview")));
    let message = result.message.as_ref().and_then(|m| message_text(m, rule));
    let rule_id = result
        .rule_id
        .clone()
        .or_else(|| result.rule.as_ref().and_then(|r| r.id.clone()))
        .or_else(|| rule.and_then(|r| r.id.clone()));
    let title = message
        .clone()
        .or_else(|| {
            let rule = rule?;
            rule.short_description
                .as_ref()
                .and_then(|m| message_text(m, Some(rule)))
                .or_else(|| {
                    rule.full_description
                        .as_ref()
                        .and_then(|m| message_text(m, Some(rule)))
                })
                .or_else(|| rule.name.clone())
                .or_else(|| rule.id.clone())
        })
        .or_else(|| rule_id.clone())
        .ok_or_else(|| ParseError::new("No information found to create a title"))?;
    let title = shorten(&title, 150);

    let mut severity = level_severity(
        result.level.as_deref().or(rule
            .and_then(|r| r.default_configuration.as_ref())
            .and_then(|c| c.level.as_deref())),
    );
    let mut cvssv3_score = None;
    if let Some(value) = rule.and_then(|r| r.properties.get("security-severity")) {
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        }
        .filter(|f| f.is_finite());
        match (number, value) {
            (Some(score), _) => {
                severity = cvss_severity(score);
                cvssv3_score = Some(score);
            }
            (None, Value::String(s)) => {
                severity = match s.trim().to_ascii_lowercase().as_str() {
                    "info" => Severity::Info,
                    "low" => Severity::Low,
                    "medium" => Severity::Medium,
                    "high" => Severity::High,
                    "critical" => Severity::Critical,
                    _ => Severity::Info,
                };
            }
            _ => {}
        }
    }

    // CWE: the last one of the strongest source (DefectDojo's order of overrides).
    let from_rule = rule.map(rule_cwes).unwrap_or_default();
    let from_props: Vec<i32> = result
        .properties
        .get("cwe")
        .map(|v| value_strings(v).into_iter().filter_map(find_cwe).collect())
        .unwrap_or_default();
    let from_taxa = taxa_cwes(result);
    let primary = [&from_taxa, &from_props, &from_rule]
        .into_iter()
        .find_map(|c| c.last().copied());
    let mut cwes = Vec::new();
    cwes.extend(primary);
    for c in from_rule.iter().chain(&from_props).chain(&from_taxa) {
        push_unique(&mut cwes, *c);
    }

    let mitigation = result.fixes.as_ref().and_then(|fixes| {
        let texts: Vec<&str> = fixes
            .iter()
            .filter_map(|f| f.description.as_ref()?.text.as_deref())
            .collect();
        (!texts.is_empty()).then(|| texts.join("\n"))
    });
    let references = rule.and_then(|r| {
        r.help_uri.clone().or_else(|| {
            r.help
                .as_ref()
                .and_then(|h| message_text(h, Some(r)))
                .filter(|t| t.starts_with("http"))
        })
    });
    let mut tag_list = Vec::new();
    if let Some(r) = rule {
        tags(&r.properties, &mut tag_list);
    }
    tags(&result.properties, &mut tag_list);
    let unique_id_from_tool = unique_id(result);
    let cve = rule_id.as_deref().and_then(find_cve);

    let locations: Vec<Option<&Location>> = if result.locations.is_empty() {
        vec![None]
    } else {
        result.locations.iter().map(Some).collect()
    };
    for location in locations {
        let physical = location.and_then(|l| l.physical_location.as_ref());
        let file_path = physical
            .and_then(|p| p.artifact_location.as_ref())
            .and_then(|a| artifact_uri(run, a))
            .map(str::to_string);
        let line = physical
            .and_then(|p| p.region.as_ref())
            .filter(|r| r.byte_offset.is_none())
            .and_then(|r| r.start_line)
            .and_then(|l| i32::try_from(l).ok());
        let mut f = ParsedFinding::new(
            title.clone(),
            severity,
            description(run, result, rule, message.as_deref(), location),
        );
        f.static_finding = Some(true);
        f.dynamic_finding = Some(false);
        f.false_p = Some(suppressed);
        f.active = Some(!suppressed);
        f.file_path = file_path;
        f.line = line;
        f.references = references.clone();
        f.vuln_id_from_tool = rule_id.clone();
        f.vulnerability_ids.extend(cve.clone());
        f.cwe = primary;
        f.cwes = cwes.clone();
        f.cvssv3_score = cvssv3_score;
        f.mitigation = mitigation.clone();
        f.date = date;
        f.tags = tag_list.clone();
        f.unique_id_from_tool = unique_id_from_tool.clone();
        out.push(f);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::robustness::{never_panics, sample};
    use super::*;
    use crate::domain::report::ParsedReport;

    fn parse(json: &str) -> Result<ParsedReport, ParseError> {
        SarifParser.parse(json.as_bytes(), Some("r.sarif"))
    }

    #[test]
    fn a_bad_result_is_located_in_the_file() {
        let json = "{\"runs\": [{\"tool\": {\"driver\": {\"name\": \"x\"}},\n \"results\": [\n  {\"ruleId\": \"a\", \"message\": {\"text\": \"m\"}},\n  {\"ruleId\": \"b\", \"level\": 5}]}]}";
        let e = parse(json).unwrap_err();
        assert_eq!(
            e.at.as_deref(),
            Some("runs[0].results[1], line 4, column 28"),
            "{e}"
        );
        // The first line of a result that starts mid-line counts from the result's column.
        let e = parse("{\"runs\": [{\"results\": [{\"level\": 5}]}]}").unwrap_err();
        assert_eq!(
            e.at.as_deref(),
            Some("runs[0].results[0], line 1, column 34")
        );
    }

    fn one(json: &str) -> ParsedFinding {
        let mut r = parse(json).unwrap();
        assert_eq!(r.findings.len(), 1);
        r.findings.remove(0)
    }

    #[test]
    fn descriptions_like_defectdojo() {
        // DefectDojo's test_example2_report expectation for appendix_k.sarif.
        let r = SarifParser
            .parse(&sample("sarif/appendix_k.sarif"), None)
            .unwrap();
        assert_eq!(
            r.findings[0].description,
            "**Result message:** Variable \"ptr\" was used without being initialized. It was declared [here](0).\n\
             **Snippet:**\n```\nadd_core(ptr, offset, val);\n    return;\n```\n\
             **Rule short description:** A variable was used without being initialized.\n\
             **Rule full description:** A variable was used without being initialized. This can result in runtime errors such as null reference exceptions.\n\
             **Code flow:**\n\
             1. collections/list.h:L15\t-\tint *ptr;\n\tVariable `ptr` declared.\n\
             2. collections/list.h:L15\t-\toffset = (y + z) * q + 1;\n\
             3. collections/list.h:L25\t-\tadd_core(ptr, offset, val)\n\tUninitialized variable `ptr` passed to method `add_core`."
        );
        // DefectDojo's test_codeql_snippet_report.
        let codeql = SarifParser
            .parse(&sample("sarif/codeQL-output.sarif"), None)
            .unwrap();
        assert_eq!(
            codeql.findings[7].description,
            "**Result message:** Keyword argument 'request' is not a supported parameter name of [function create](1).\n\
             **Snippet:**\n```\n\n        response = make_response(redirect('/'))\n        response = libsession.create(request=request, response=response, username=username)\n        return response\n\n\n```\n\
             **Rule name:** py/call/wrong-named-argument\n\
             **Rule short description:** Wrong name for an argument in a call\n\
             **Rule full description:** Using a named argument whose name does not correspond to a parameter of the called function or method, will result in a TypeError at runtime."
        );
        // The suppression there is "accepted".
        assert_eq!(r.findings[0].false_p, Some(true));
        let k2 = SarifParser
            .parse(&sample("sarif/appendix_k2.sarif"), None)
            .unwrap();
        assert_eq!(
            k2.findings[0].description,
            "**Result message:** Variable \"count\" was used without being initialized.\n\
             **Rule full description:** A variable was used without being initialized. This can result in runtime errors such as null reference exceptions."
        );
        let dockle = SarifParser
            .parse(&sample("sarif/dockle_0_3_15.sarif"), None)
            .unwrap();
        assert_eq!(
            dockle.findings[1].description,
            "**Result message:** export DOCKER_CONTENT_TRUST=1 before docker pull/build\n\
             **Rule short description:** Enable Content trust for Docker"
        );
        assert_eq!(
            dockle.findings[1].references.as_deref(),
            Some("https://github.com/goodwithtech/dockle/blob/master/CHECKPOINT.md#CIS-DI-0005")
        );
    }

    #[test]
    fn rules_by_index_and_extension_messages_and_cwes() {
        let f = one(
            r#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"d","rules":[]},
              "extensions":[{"name":"x","rules":[{"id":"R1"},{"id":"R2","name":"second",
                "messageStrings":{"m":{"text":"{0} uses {1} {{not}} {2}"}},
                "defaultConfiguration":{"level":"error"},
                "properties":{"security-severity":"9.1","tags":["external/cwe/cwe-079","security"]},
                "relationships":[{"target":{"id":"89","toolComponent":{"name":"CWE"}}}]}]}]},
              "invocations":[{"endTimeUtc":"2021-03-08T15:39:40Z"}],
              "results":[{"rule":{"index":1,"toolComponent":{"index":0}},
                "message":{"id":"m","arguments":["a","b"]},
                "partialFingerprints":{"b/v1":"2","a":"1","b/v2":"3"},
                "properties":{"tags":["security","x"]},
                "taxa":[{"id":"22","toolComponent":{"name":"CWE"}}],
                "fixes":[{"description":{"text":"do this"}},{}],
                "suppressions":[{"status":"rejected"}]}]}]}"#,
        );
        assert_eq!(f.title, "a uses b {not} {2}");
        assert_eq!(f.vuln_id_from_tool.as_deref(), Some("R2"));
        assert_eq!(
            (f.severity, f.cvssv3_score),
            (Severity::Critical, Some(9.1))
        );
        assert_eq!((f.cwe, f.cwes.clone()), (Some(22), vec![22, 89]));
        assert_eq!(f.tags, ["cwe-079", "security", "x"]);
        assert_eq!(f.unique_id_from_tool.as_deref(), Some("a:1|b:3"));
        assert_eq!(f.mitigation.as_deref(), Some("do this"));
        assert_eq!(f.date.unwrap().to_string(), "2021-03-08");
        assert_eq!((f.active, f.false_p), (Some(true), Some(false)));
        assert_eq!((f.file_path.clone(), f.line), (None, None));
        assert!(f.description.contains("**Rule name:** second"));
    }

    #[test]
    fn locations_fingerprints_and_fallbacks() {
        let r = parse(
            r#"{"runs":[{"tool":{"driver":{"name":"d","rules":[{"id":"CVE-2021-1234-x",
                "shortDescription":{"text":"short"},"helpUri":"https://h"}]}},
              "artifacts":[{"location":{"uri":"src/a.c"}}],
              "results":[{"ruleId":"CVE-2021-1234-x","level":"none",
                "fingerprints":{"stable/v1":"old","stable/v2":{"value":"new"},"other":"o"},
                "locations":[{"physicalLocation":{"artifactLocation":{"index":0},"region":{"startLine":3}}},
                             {"physicalLocation":{"artifactLocation":{"uri":"b.c"},"region":{"byteOffset":10,"startLine":9}}},
                             {"physicalLocation":{"artifactLocation":{"uri":"c.c"},"region":{"charOffset":1}}}]},
                {"ruleId":"CVE-2021-1234-x","kind":"pass"},
                {"ruleId":"CVE-2021-1234-x","message":{"id":"missing"}}]}]}"#,
        )
        .unwrap();
        assert_eq!(r.findings.len(), 4);
        let f = &r.findings[0];
        assert_eq!(f.title, "short");
        assert_eq!(f.severity, Severity::Info);
        assert_eq!(f.vulnerability_ids, ["CVE-2021-1234"]);
        assert_eq!(f.unique_id_from_tool.as_deref(), Some("new"));
        assert_eq!((f.file_path.as_deref(), f.line), (Some("src/a.c"), Some(3)));
        assert_eq!(
            (r.findings[1].file_path.as_deref(), r.findings[1].line),
            (Some("b.c"), None)
        );
        assert_eq!(r.findings[2].line, None);
        assert_eq!(f.references.as_deref(), Some("https://h"));
        assert_eq!(r.findings[3].title, "short");
    }

    #[test]
    fn bad_documents_are_errors_with_a_place() {
        assert!(parse("").is_err());
        let e = parse(r#"{"runs":[{"results":[{"message":{}}]}]}"#).unwrap_err();
        assert_eq!(e.message, "No information found to create a title");
        assert_eq!(e.at.as_deref(), Some("runs[0].results[0]"));
        let e = parse(r#"{"runs":[{"results":[{"locations":[{"physicalLocation":{"region":{"startLine":"x"}}}]}]}]}"#)
            .unwrap_err();
        assert!(
            e.at.unwrap()
                .starts_with("runs[0].results[0], line 1, column")
        );
        assert!(parse("[]").is_err());
        assert_eq!(parse(r#"{"runs":null}"#).unwrap().findings.len(), 0);
        // Deep nesting: a kept value stops at serde_json's recursion limit, an ignored one is
        // skipped without recursion.
        let deep = |at: &str| {
            format!(
                "{{\"runs\":[{{\"results\":[{{\"ruleId\":\"r\",\"{at}\":{{\"x\":{}{}}}}}]}}]}}",
                "[".repeat(50_000),
                "]".repeat(50_000)
            )
        };
        assert!(parse(&deep("properties")).is_err());
        assert_eq!(parse(&deep("unknown")).unwrap().findings.len(), 1);
    }

    #[test]
    fn large_logs_parse() {
        let result = r#"{"ruleId":"R","level":"error","message":{"text":"m"},"locations":[{"physicalLocation":{"artifactLocation":{"uri":"a.c"},"region":{"startLine":1}}}]}"#;
        let results = vec![result; 20_000].join(",");
        let log = format!(
            r#"{{"runs":[{{"tool":{{"driver":{{"name":"t","rules":[{{"id":"R"}}]}}}},"results":[{results}]}}]}}"#
        );
        let r = parse(&log).unwrap();
        assert_eq!(r.findings.len(), 20_000);
    }

    #[test]
    fn never_panics_on_damaged_samples() {
        let files = [
            "sarif/appendix_k.sarif",
            "sarif/njsscan.sarif",
            "sarif/dockle_0_3_15.sarif",
            "sarif/blackduck_nested_fingerprints.sarif",
            "sarif/bash-report.sarif",
        ];
        let data: Vec<(&str, Vec<u8>)> = files.iter().map(|f| (*f, sample(f))).collect();
        let samples: Vec<(&str, &[u8])> = data.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        never_panics(&SarifParser, &samples, 150);
    }
}
