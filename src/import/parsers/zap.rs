//! ZAP Scan: OWASP ZAP's XML report (`OWASPZAPReport` → `site` → `alerts/alertitem`, also the
//! "XML with requests and responses" / xml-plus variant), as DefectDojo's
//! `dojo/tools/zap/parser.py` reads it: one finding per alert item, title from `alert`,
//! severity from `riskcode` (0 Info, 1 Low, 2 Medium, 3 High), description, solution and
//! reference through `html2text` (as DefectDojo does), `cweid` as CWE, `pluginid` as
//! `vuln_id_from_tool`, and one endpoint per `instance` URI with its query and fragment dropped
//! (ZAP generates them per request; DefectDojo drops them to avoid fake endpoints).
//!
//! Read as a stream through [`super::xml::XmlReader`]: no DTD, no entity expansion, bounded
//! nesting, and only the alert fields are kept (request and response bodies are skipped).
//!
//! Where this does better than DefectDojo, on purpose:
//! - `scanner_confidence` comes from the alert's `confidence` (DefectDojo reads `riskcode`
//!   there by mistake); confidence 0 ("false positive" in ZAP) marks the finding false positive;
//! - a relative instance URI is placed on its site (`site@name`, else host, port and ssl);
//! - a missing `solution`/`reference`/`desc` is empty instead of failing the import;
//! - the instances (method, URI, parameter, attack, evidence) and `otherinfo` go to
//!   `steps_to_reproduce`, the instance count to `nb_occurences`, a single instance's parameter
//!   and attack to `param`/`payload`, and `wascid` to the references — DefectDojo keeps the
//!   first three only as request/response pairs and drops the rest. The description stays
//!   exactly DefectDojo's, so hash codes stay comparable.

use super::html::{html2text, html2text_opt};
use super::xml::{Node, XmlReader};
use super::{ParseError, Parser, Sink};
use crate::domain::Severity;
use crate::domain::report::{Endpoint, ParsedFinding};

pub struct ZapParser;

impl Parser for ZapParser {
    fn scan_type(&self) -> &'static str {
        "ZAP Scan"
    }

    fn parse_each(
        &self,
        bytes: &[u8],
        _file_name: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<Option<String>, ParseError> {
        let text = super::text(bytes)?;
        if text.trim().is_empty() {
            return Err(ParseError::new("the ZAP report is empty"));
        }
        parse_report(text, sink)
    }
}

#[derive(Default, Clone)]
struct Site {
    name: Option<String>,
    host: Option<String>,
    port: Option<String>,
    ssl: Option<String>,
}

impl Site {
    /// `scheme://host[:port]` to put a relative URI on.
    fn base(&self) -> Option<String> {
        if let Some(name) = self.name.as_deref().filter(|n| n.contains("://")) {
            return Some(name.trim_end_matches('/').to_string());
        }
        let host = self.host.as_deref().filter(|h| !h.is_empty())?;
        let scheme = if self.ssl.as_deref() == Some("true") {
            "https"
        } else {
            "http"
        };
        Some(match self.port.as_deref().filter(|p| !p.is_empty()) {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        })
    }
}

/// The alert item fields kept.
const ALERT_FIELDS: [&str; 13] = [
    "pluginid",
    "alert",
    "name",
    "riskcode",
    "confidence",
    "riskdesc",
    "desc",
    "solution",
    "otherinfo",
    "reference",
    "cweid",
    "wascid",
    "count",
];

/// The instance fields kept (old reports put them directly in the alert item).
const INSTANCE_FIELDS: [&str; 6] = ["uri", "method", "param", "attack", "evidence", "otherinfo"];

#[derive(Default)]
struct Fields(Vec<(&'static str, String)>);

impl Fields {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn append(&mut self, name: &'static str, text: &str) {
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push_str(text),
            None => self.0.push((name, text.to_string())),
        }
    }
}

#[derive(Default)]
struct Alert {
    depth: usize,
    fields: Fields,
    instances: Vec<Fields>,
    /// `(depth, fields)` of the instance being read.
    current: Option<(usize, Fields)>,
    /// Instance fields written directly in the alert item (reports before ZAP 2.8).
    inline: Fields,
}

/// Reads the report as it goes, handing each alert item's finding to `sink` once the item has
/// ended; returns ZAP's version.
fn parse_report(text: &str, sink: &mut Sink<'_>) -> Result<Option<String>, ParseError> {
    let mut reader = XmlReader::new(text);
    let mut version = None;
    let mut stack: Vec<String> = Vec::new();
    let mut site = Site::default();
    let mut alert: Option<Alert> = None;
    loop {
        let node = reader.next_node()?;
        match node {
            Node::Eof => break,
            Node::Start(name, attrs) => {
                let attr = |k: &str| attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                if stack.is_empty() {
                    if name != "OWASPZAPReport" {
                        return Err(ParseError::new(format!(
                            "not a ZAP XML report: the root element is <{name}>, not <OWASPZAPReport>"
                        ))
                        .at("line 1"));
                    }
                    version = attr("version");
                } else if stack.len() == 1 && name == "site" {
                    site = Site {
                        name: attr("name"),
                        host: attr("host"),
                        port: attr("port"),
                        ssl: attr("ssl"),
                    };
                } else if name == "alertitem"
                    && alert.is_none()
                    && stack.len() == 3
                    && stack[1] == "site"
                    && stack[2] == "alerts"
                {
                    alert = Some(Alert {
                        depth: stack.len() + 1,
                        ..Alert::default()
                    });
                } else if let Some(a) = alert.as_mut()
                    && name == "instance"
                    && a.current.is_none()
                    && stack.len() == a.depth + 1
                    && stack.last().is_some_and(|s| s == "instances")
                {
                    a.current = Some((stack.len() + 1, Fields::default()));
                }
                stack.push(name);
            }
            Node::Text(t) => {
                let Some(a) = alert.as_mut() else { continue };
                let Some(field) = stack.last() else { continue };
                let depth = stack.len();
                if let Some((d, inst)) = a.current.as_mut() {
                    if depth == *d + 1
                        && let Some(f) = INSTANCE_FIELDS.iter().find(|f| **f == field)
                    {
                        inst.append(f, &t);
                    }
                } else if depth == a.depth + 1 {
                    if let Some(f) = ALERT_FIELDS.iter().find(|f| **f == field) {
                        a.fields.append(f, &t);
                    }
                    if let Some(f) = INSTANCE_FIELDS.iter().find(|f| **f == field) {
                        a.inline.append(f, &t);
                    }
                }
            }
            Node::End(_) => {
                let depth = stack.len();
                stack.pop();
                if let Some(a) = alert.as_mut() {
                    if a.current.as_ref().is_some_and(|(d, _)| *d == depth)
                        && let Some((_, inst)) = a.current.take()
                    {
                        a.instances.push(inst);
                    } else if depth == a.depth
                        && let Some(done) = alert.take()
                    {
                        sink(finding(done, &site).map_err(|e| e.at(reader.here()))?)?;
                    }
                }
            }
        }
    }
    Ok(version)
}

fn severity(fields: &Fields) -> Severity {
    match fields.get("riskcode").map(str::trim) {
        Some("0") => Severity::Info,
        Some("1") => Severity::Low,
        Some("2") => Severity::Medium,
        Some("3") => Severity::High,
        _ => fields
            .get("riskdesc")
            .and_then(|d| d.split_whitespace().next())
            .and_then(Severity::parse_loose)
            .unwrap_or(Severity::Info),
    }
}

fn endpoint(uri: &str, site: &Site) -> Option<Endpoint> {
    let uri = uri.trim();
    if uri.is_empty() {
        return None;
    }
    let absolute = if uri.contains("://") {
        uri.to_string()
    } else {
        let base = site.base()?;
        if uri.starts_with('/') {
            format!("{base}{uri}")
        } else {
            format!("{base}/{uri}")
        }
    };
    let mut e = Endpoint::parse(&absolute).ok()?;
    e.query = None;
    e.fragment = None;
    Some(e)
}

fn finding(alert: Alert, site: &Site) -> Result<ParsedFinding, ParseError> {
    let f = &alert.fields;
    let title = f
        .get("alert")
        .or(f.get("name"))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ParseError::new("an alert item has no alert name"))?;
    let mut out = ParsedFinding::new(
        title,
        severity(f),
        html2text(f.get("desc").unwrap_or_default()),
    );
    out.mitigation = html2text_opt(f.get("solution"));
    let wasc = f
        .get("wascid")
        .map(str::trim)
        .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) && *w != "0");
    out.references = match (html2text_opt(f.get("reference")), wasc) {
        (Some(r), Some(w)) => Some(format!("{r}WASC-{w}\n")),
        (Some(r), None) => Some(r),
        (None, Some(w)) => Some(format!("WASC-{w}\n")),
        (None, None) => None,
    };
    out.vuln_id_from_tool = f
        .get("pluginid")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    out.cwe = f
        .get("cweid")
        .map(str::trim)
        .filter(|c| !c.is_empty() && c.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|c| c.parse::<i32>().ok())
        .filter(|c| *c > 0);
    out.cwes.extend(out.cwe);
    match f.get("confidence").map(str::trim) {
        Some("0") => {
            out.false_p = Some(true);
            out.active = Some(false);
        }
        Some("1") => out.scanner_confidence = Some(7),
        Some("2") => out.scanner_confidence = Some(4),
        Some("3" | "4") => out.scanner_confidence = Some(1),
        _ => {}
    }
    out.dynamic_finding = Some(true);
    out.static_finding = Some(false);

    let mut instances = alert.instances;
    if instances.is_empty() && alert.inline.get("uri").is_some() {
        instances.push(alert.inline);
    }
    let mut steps = String::new();
    if let Some(other) = html2text_opt(f.get("otherinfo")) {
        steps.push_str("**Other information:**\n");
        steps.push_str(&other);
    }
    if !instances.is_empty() {
        steps.push_str("**Instances:**\n");
    }
    for inst in &instances {
        let uri = inst.get("uri").unwrap_or_default().trim();
        if let Some(e) = endpoint(uri, site) {
            out.endpoints.push(e);
        }
        let method = inst.get("method").unwrap_or_default().trim();
        if method.is_empty() {
            steps.push_str(&format!("- {uri}"));
        } else {
            steps.push_str(&format!("- {method} {uri}"));
        }
        for (label, key) in [
            ("param", "param"),
            ("attack", "attack"),
            ("evidence", "evidence"),
            ("other info", "otherinfo"),
        ] {
            if let Some(v) = inst.get(key).map(str::trim).filter(|v| !v.is_empty()) {
                steps.push_str(&format!("\n  {label}: {v}"));
            }
        }
        steps.push('\n');
    }
    out.steps_to_reproduce = (!steps.is_empty()).then_some(steps);
    out.nb_occurences = if instances.is_empty() {
        f.get("count").and_then(|c| c.trim().parse::<i32>().ok())
    } else {
        i32::try_from(instances.len()).ok()
    };
    if let [only] = instances.as_slice() {
        out.param = only
            .get("param")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        out.payload = only
            .get("attack")
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_string);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::robustness::{never_panics, sample};
    use super::*;
    use crate::domain::report::ParsedReport;

    fn parse(xml: &str) -> Result<ParsedReport, ParseError> {
        ZapParser.parse(xml.as_bytes(), Some("zap.xml"))
    }

    #[test]
    fn fields_like_defectdojo_and_better() {
        let r = ZapParser
            .parse(&sample("zap/dvwa_baseline_dojo.xml"), None)
            .unwrap();
        let f = &r.findings[0];
        assert_eq!(
            f.description,
            "X-Frame-Options header is not included in the HTTP response to protect against\n'ClickJacking' attacks.\n\n"
        );
        assert_eq!(
            f.references.as_deref(),
            Some(
                "https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options\n\nWASC-15\n"
            )
        );
        assert_eq!(f.cwe, Some(16));
        // confidence 2 (Medium) → Firm; DefectDojo would read riskcode 2 here.
        assert_eq!(f.scanner_confidence_text(), Some("Firm"));
        assert_eq!(
            f.endpoints[1].path.as_deref(),
            Some("vulnerabilities/sqli_blind/")
        );
        assert_eq!(f.nb_occurences, Some(11));
        assert_eq!(r.tool_version.as_deref(), Some("D-2021-03-29"));
        let plus = ZapParser
            .parse(&sample("zap/zap-xml-plus-format.xml"), None)
            .unwrap();
        let p = &plus.findings[0];
        assert_eq!(p.mitigation.as_deref(), Some("TBA\n\n"));
        assert!(p.steps_to_reproduce.as_deref().unwrap().contains(
            "- PUT http://localhost:8080/bodgeit/js/qndto7n63d\n  evidence: response code 403"
        ));
        assert_eq!(p.param, None);
    }

    #[test]
    fn relative_uris_old_layout_and_missing_fields() {
        let r = parse(
            r#"<?xml version="1.0"?><OWASPZAPReport version="2.7.0"><site name="" host="app.test" port="8443" ssl="true"><alerts>
              <alertitem><pluginid>1</pluginid><alert>A</alert><riskcode>3</riskcode><confidence>0</confidence>
                <uri>/login?x=1#f</uri><param>user</param><attack>' or 1=1</attack><cweid>-1</cweid></alertitem>
              <alertitem><name>B</name><riskcode>9</riskcode><riskdesc>Medium (Low)</riskdesc><count>4</count></alertitem>
            </alerts></site></OWASPZAPReport>"#,
        )
        .unwrap();
        assert_eq!(r.findings.len(), 2);
        let a = &r.findings[0];
        assert_eq!(a.severity, Severity::High);
        assert_eq!(a.endpoints[0].url(), "https://app.test:8443/login");
        assert_eq!(
            (a.param.as_deref(), a.payload.as_deref()),
            (Some("user"), Some("' or 1=1"))
        );
        assert_eq!(
            (a.false_p, a.active, a.cwe),
            (Some(true), Some(false), None)
        );
        assert_eq!(a.description, "\n\n");
        let b = &r.findings[1];
        assert_eq!((b.title.as_str(), b.severity), ("B", Severity::Medium));
        assert_eq!((b.nb_occurences, b.mitigation.clone()), (Some(4), None));
    }

    #[test]
    fn hostile_and_broken_xml_is_refused() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
            <OWASPZAPReport><site><alerts><alertitem><alert>&x;</alert></alertitem></alerts></site></OWASPZAPReport>"#;
        assert!(parse(xxe).unwrap_err().message.contains("DOCTYPE"));
        let bomb = format!(
            "<!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><OWASPZAPReport>&lol9;</OWASPZAPReport>",
            (1..10)
                .map(|i| format!(
                    "<!ENTITY lol{i} \"{}\">",
                    format!("&lol{};", i - 1).repeat(10)
                ))
                .collect::<String>()
        );
        let started = std::time::Instant::now();
        assert!(parse(&bomb).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let e =
            parse("<OWASPZAPReport><site><alerts><alertitem><alert>&nope;</alert>").unwrap_err();
        assert!(e.message.contains("unknown entity"));
        assert!(
            parse("<report/>")
                .unwrap_err()
                .message
                .contains("not a ZAP XML report")
        );
        assert!(parse("").is_err());
        assert!(parse("<OWASPZAPReport><site>").is_err());
        let deep = format!("<OWASPZAPReport>{}", "<x>".repeat(100_000));
        assert!(parse(&deep).unwrap_err().message.contains("nested deeper"));
        let e = parse("<OWASPZAPReport><site><alerts><alertitem><riskcode>1</riskcode></alertitem></alerts></site></OWASPZAPReport>")
            .unwrap_err();
        assert!(e.message.contains("no alert name"));
    }

    #[test]
    fn never_panics_on_damaged_samples() {
        let files = [
            "zap/0_zap_sample.xml",
            "zap/5_zap_sample_one.xml",
            "zap/zap-xml-plus-format.xml",
            "zap/empty_2.9.0.xml",
        ];
        let data: Vec<(&str, Vec<u8>)> = files.iter().map(|f| (*f, sample(f))).collect();
        let samples: Vec<(&str, &[u8])> = data.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        never_panics(&ZapParser, &samples, 200);
    }
}
