//! Trivy Scan: Aqua Security's Trivy JSON reports, as DefectDojo's `dojo/tools/trivy/parser.py`
//! reads them. Three shapes: the legacy list of targets (or `null`), schema 2
//! (`{"SchemaVersion": 2, "Results": [...]}`), and Kubernetes cluster reports (`ClusterName` with
//! `Vulnerabilities` / `Misconfigurations` per workload, or `Resources`), whose workload
//! ("namespace / kind / name") becomes the finding's `service`.
//!
//! Per target: vulnerabilities (title `"<id> <package> <version>"`, DefectDojo's description
//! template, severity and CVSS v3 from the first CVSS source among the report's
//! `SeveritySource`, nvd, ghsa, redhat, bitnami — the vector's base severity and its
//! environmental score — else Trivy's severity; VEX status to active/verified/mitigated; fixed
//! version as mitigation; package as component; the package path or target as file path),
//! misconfigurations (`"<ID> - <Title>"`, cause lines in the description), secrets
//! (`"Secret detected in <target> - <title>"`, file and line) and licenses.
//!
//! Where this does better than DefectDojo, on purpose:
//! - CWE ids Trivy writes as `NVD-CWE-Other` / `NVD-CWE-noinfo` are skipped (DefectDojo fails
//!   the import on them); every numeric CWE goes to `cwes`;
//! - `null` lists (`"References": null`, `"CVSS": null`) are empty, and an unknown severity of a
//!   misconfiguration, secret or license is Info, instead of failing the import;
//! - a `Resources` workload without a namespace keeps its name (DefectDojo fails there);
//! - a missing template value is left empty, not written as `None`;
//! - the fix version also fills `fix_version`, `PublishedDate` fills `publish_date`, a secret's
//!   rule id is its `vuln_id_from_tool`, and a license's confidence (0–1 in Trivy) is mapped to
//!   DefectDojo's scale instead of being truncated to an integer.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;

use super::common::{cwe_number, non_blank, parse_date, push_unique};
use super::cvss::Cvss3;
use super::{ParseError, Parser, Sink, within};
use crate::domain::Severity;
use crate::domain::report::ParsedFinding;

pub struct TrivyParser;

impl Parser for TrivyParser {
    fn scan_type(&self) -> &'static str {
        "Trivy Scan"
    }

    fn parse_each(
        &self,
        bytes: &[u8],
        _file_name: Option<&str>,
        sink: &mut Sink<'_>,
    ) -> Result<Option<String>, ParseError> {
        let text = super::text(bytes)?;
        let trimmed = text.trim_start();
        // Vulnerabilities stay unparsed slices of the input until their turn: each is read,
        // handed on as a finding and dropped.
        let mut out = Out { text, sink };
        match trimmed.chars().next() {
            None => return Err(ParseError::new("the Trivy report is empty")),
            Some('[') | Some('n') => {
                let targets: Option<Vec<Target<'_>>> = serde_json::from_str(text)?;
                out.results(targets.as_deref().unwrap_or_default(), None)
                    .map_err(|e| prefix(e, ""))?;
            }
            Some('{') => {
                let report: Report<'_> = serde_json::from_str(text)?;
                let schema2 = report.schema_version.as_ref().and_then(Value::as_i64) == Some(2);
                let k8s = report.cluster_name.is_some() || !report.resources.is_empty();
                if !schema2 && !k8s && report.results.is_none() {
                    return Err(ParseError::new(
                        "Schema of Trivy json report is not supported (no SchemaVersion 2, Results or ClusterName)",
                    ));
                }
                out.results(report.results.as_deref().unwrap_or_default(), None)
                    .map_err(|e| prefix(e, "Results"))?;
                for (section, workloads) in [
                    ("Vulnerabilities", &report.vulnerabilities),
                    ("Misconfigurations", &report.misconfigurations),
                    ("Resources", &report.resources),
                ] {
                    for (i, w) in workloads.iter().enumerate() {
                        let service = [&w.namespace, &w.kind, &w.name]
                            .into_iter()
                            .filter_map(|p| p.as_deref().filter(|s| !s.is_empty()))
                            .collect::<Vec<_>>()
                            .join(" / ");
                        out.results(&w.results, Some(&service))
                            .map_err(|e| prefix(e, &format!("{section}[{i}].Results")))?;
                    }
                }
            }
            Some(_) => {
                return Err(ParseError::new(
                    "a Trivy report is a JSON object or list (trivy --format json)",
                ));
            }
        }
        Ok(None)
    }
}

fn prefix(e: ParseError, base: &str) -> ParseError {
    let inner = e.at.clone().unwrap_or_default();
    e.at(format!("{base}{inner}"))
}

/// `null` read as the type's default (Trivy writes `"Vulnerabilities": null`).
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Report<'a> {
    schema_version: Option<Value>,
    cluster_name: Option<String>,
    #[serde(borrow)]
    results: Option<Vec<Target<'a>>>,
    #[serde(borrow, deserialize_with = "nullable")]
    vulnerabilities: Vec<Workload<'a>>,
    #[serde(borrow, deserialize_with = "nullable")]
    misconfigurations: Vec<Workload<'a>>,
    #[serde(borrow, deserialize_with = "nullable")]
    resources: Vec<Workload<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Workload<'a> {
    namespace: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    #[serde(borrow, deserialize_with = "nullable")]
    results: Vec<Target<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Target<'a> {
    target: Option<String>,
    class: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(borrow, deserialize_with = "nullable")]
    vulnerabilities: Vec<&'a RawValue>,
    #[serde(deserialize_with = "nullable")]
    misconfigurations: Vec<Misconfiguration>,
    #[serde(deserialize_with = "nullable")]
    secrets: Vec<Secret>,
    #[serde(deserialize_with = "nullable")]
    licenses: Vec<License>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    vulnerability_id: Option<String>,
    pkg_name: Option<String>,
    pkg_path: Option<String>,
    installed_version: Option<String>,
    fixed_version: Option<String>,
    status: Option<String>,
    severity_source: Option<String>,
    severity: Option<String>,
    title: Option<String>,
    description: Option<String>,
    #[serde(deserialize_with = "nullable")]
    references: Vec<String>,
    #[serde(rename = "CweIDs", deserialize_with = "nullable")]
    cwe_ids: Vec<String>,
    #[serde(rename = "CVSS", deserialize_with = "nullable")]
    cvss: HashMap<String, Option<CvssClass>>,
    published_date: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CvssClass {
    #[serde(rename = "V3Vector")]
    v3_vector: Option<String>,
    #[serde(rename = "V3Score")]
    v3_score: Option<f64>,
    #[serde(rename = "V2Score")]
    v2_score: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Misconfiguration {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "ID")]
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    message: Option<String>,
    resolution: Option<String>,
    severity: Option<String>,
    #[serde(rename = "PrimaryURL")]
    primary_url: Option<String>,
    #[serde(deserialize_with = "nullable")]
    references: Vec<String>,
    cause_metadata: Option<CauseMetadata>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CauseMetadata {
    code: Option<Code>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Code {
    lines: Option<Vec<CodeLine>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct CodeLine {
    number: Option<Value>,
    content: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Secret {
    #[serde(rename = "RuleID")]
    rule_id: Option<String>,
    category: Option<String>,
    title: Option<String>,
    severity: Option<String>,
    #[serde(rename = "Match")]
    matched: Option<String>,
    start_line: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct License {
    severity: Option<String>,
    category: Option<String>,
    pkg_name: Option<String>,
    file_path: Option<String>,
    name: Option<String>,
    confidence: Option<f64>,
    link: Option<String>,
}

/// Trivy's severity names.
fn trivy_severity(s: Option<&str>) -> Option<Severity> {
    Some(match s? {
        "CRITICAL" => Severity::Critical,
        "HIGH" => Severity::High,
        "MEDIUM" => Severity::Medium,
        "LOW" => Severity::Low,
        "UNKNOWN" => Severity::Info,
        other => return Severity::parse_loose(other),
    })
}

/// DefectDojo's `convert_cvss_score`.
fn score_severity(score: Option<f64>) -> Severity {
    match score {
        None => Severity::Info,
        Some(s) if s <= 0.0 => Severity::Info,
        Some(s) if s < 4.0 => Severity::Low,
        Some(s) if s < 7.0 => Severity::Medium,
        Some(s) if s < 9.0 => Severity::High,
        Some(_) => Severity::Critical,
    }
}

const CVSS_SOURCES: [&str; 4] = ["nvd", "ghsa", "redhat", "bitnami"];

fn s(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("")
}

fn tags(parts: &[&Option<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for p in parts {
        if let Some(t) = p.as_deref().filter(|t| !t.is_empty()) {
            push_unique(&mut out, t.to_string());
        }
    }
    out
}

/// Where findings go, and the report they are read from (to place errors in it).
struct Out<'t, 's, 'k> {
    text: &'t str,
    sink: &'s mut Sink<'k>,
}

impl Out<'_, '_, '_> {
    fn results(&mut self, targets: &[Target<'_>], service: Option<&str>) -> Result<(), ParseError> {
        let sink = &mut *self.sink;
        for (n, t) in targets.iter().enumerate() {
            // DefectDojo skips results without a target.
            let Some(target) = t.target.as_deref() else {
                continue;
            };
            let service = service.map(str::to_string).filter(|s| !s.is_empty());
            for (i, raw) in t.vulnerabilities.iter().enumerate() {
                let v: Vulnerability = serde_json::from_str(raw.get()).map_err(|e| {
                    let e = within(self.text, raw.get(), e);
                    let at = e.at.clone().unwrap_or_default();
                    e.at(format!("[{n}].Vulnerabilities[{i}], {at}"))
                })?;
                if let Some(f) = vulnerability(t, target, &v, service.clone()) {
                    sink(f)?;
                }
            }
            for m in &t.misconfigurations {
                sink(misconfiguration(t, target, m, service.clone()))?;
            }
            for secret in &t.secrets {
                let mut f = detected(
                    ("Secret", &secret.title),
                    target,
                    &secret.severity,
                    [("Category", &secret.category), ("Match", &secret.matched)],
                    t,
                    &service,
                );
                f.file_path = Some(target.to_string());
                f.line = secret.start_line.and_then(|l| i32::try_from(l).ok());
                f.vuln_id_from_tool = secret.rule_id.clone();
                sink(f)?;
            }
            for lic in &t.licenses {
                let mut f = detected(
                    ("License", &lic.name),
                    target,
                    &lic.severity,
                    [("Category", &lic.category), ("Package", &lic.pkg_name)],
                    t,
                    &service,
                );
                f.file_path = lic.file_path.clone().and_then(non_blank);
                f.scanner_confidence = lic.confidence.map(|c| {
                    if c >= 0.9 {
                        1
                    } else if c >= 0.5 {
                        4
                    } else {
                        7
                    }
                });
                f.references = lic.link.clone().and_then(non_blank);
                sink(f)?;
            }
        }
        Ok(())
    }
}

/// A secret or license Trivy detected in `target`, as DefectDojo writes both: titled
/// `"<Kind> detected in <target> - <name>"`, Trivy's severity (else Info), the name and two
/// labelled details as description; static, with a fix, tagged with the target's class.
fn detected(
    (kind, name): (&str, &Option<String>),
    target: &str,
    severity: &Option<String>,
    details: [(&str, &Option<String>); 2],
    t: &Target<'_>,
    service: &Option<String>,
) -> ParsedFinding {
    let mut description = format!("{}\n", s(name));
    for (label, value) in details {
        description.push_str(&format!("**{label}:** {}\n", s(value)));
    }
    let mut f = ParsedFinding::new(
        format!("{kind} detected in {target} - {}", s(name)),
        trivy_severity(severity.as_deref()).unwrap_or(Severity::Info),
        description,
    );
    f.static_finding = Some(true);
    f.dynamic_finding = Some(false);
    f.fix_available = Some(true);
    f.tags = tags(&[&t.class]);
    f.service = service.clone();
    f
}

fn vulnerability(
    t: &Target<'_>,
    target: &str,
    v: &Vulnerability,
    service: Option<String>,
) -> Option<ParsedFinding> {
    // DefectDojo skips a vulnerability without a package or with an unknown severity.
    let package = v.pkg_name.as_deref()?;
    let vuln_id = v.vulnerability_id.as_deref().unwrap_or("0");
    let class = v
        .severity_source
        .iter()
        .map(String::as_str)
        .chain(CVSS_SOURCES)
        .find_map(|source| v.cvss.get(source).and_then(Option::as_ref));
    let mut cvssv3 = None;
    let mut cvssv3_score = None;
    let severity = match class {
        Some(c) => match c.v3_vector.as_deref().and_then(Cvss3::parse) {
            Some(vector) => {
                cvssv3 = Some(vector.clean_vector());
                cvssv3_score = Some(vector.environmental_score());
                vector.base_severity()
            }
            None if c.v3_score.is_some() => {
                cvssv3_score = c.v3_score;
                score_severity(c.v3_score)
            }
            None => score_severity(c.v2_score),
        },
        None => trivy_severity(v.severity.as_deref())?,
    };
    let file_path = match t.class.as_deref() {
        Some("os-pkgs" | "lang-pkgs") => Some(v.pkg_path.clone().unwrap_or(target.to_string())),
        Some("config") => Some(target.to_string()),
        _ => None,
    };
    let version = s(&v.installed_version);
    let fixed = s(&v.fixed_version);
    let description = format!(
        "{}\n**Target:** {target}\n**Type:** {}\n**Fixed version:** {fixed}\n\n{}\n",
        s(&v.title),
        s(&t.kind),
        s(&v.description),
    );
    let mut f = ParsedFinding::new(
        format!("{vuln_id} {package} {version}"),
        severity,
        description,
    );
    let mut cwes = Vec::new();
    for c in v.cwe_ids.iter().filter_map(|c| cwe_number(c)) {
        push_unique(&mut cwes, c);
    }
    f.cwe = cwes.first().copied();
    f.cwes = cwes;
    f.file_path = file_path;
    f.references = non_blank(v.references.join("\n"));
    f.impact = v.status.clone().and_then(non_blank);
    f.mitigation = non_blank(fixed);
    f.fix_version = non_blank(fixed);
    f.fix_available = Some(!fixed.is_empty());
    f.component_name = non_blank(package);
    f.component_version = non_blank(version);
    f.cvssv3 = cvssv3;
    f.cvssv3_score = cvssv3_score;
    f.static_finding = Some(true);
    f.dynamic_finding = Some(false);
    f.tags = tags(&[&t.kind, &t.class]);
    f.service = service;
    f.publish_date = v.published_date.as_deref().and_then(parse_date);
    if !vuln_id.is_empty() {
        f.vulnerability_ids.push(vuln_id.to_string());
    }
    // Trivy's VEX status (DefectDojo's `convert_trivy_status`).
    match v.status.as_deref() {
        Some("unknown") => f.verified = Some(false),
        Some("not_affected") => {
            f.active = Some(false);
            f.verified = Some(true);
            f.is_mitigated = Some(true);
        }
        Some("affected" | "fixed" | "will_not_fix" | "fix_deferred" | "end_of_life") => {
            f.active = Some(true);
            f.verified = Some(true);
        }
        Some("under_investigation") => {
            f.active = Some(true);
            f.verified = Some(false);
        }
        _ => {}
    }
    Some(f)
}

fn misconfiguration(
    t: &Target<'_>,
    target: &str,
    m: &Misconfiguration,
    service: Option<String>,
) -> ParsedFinding {
    let mut message = s(&m.message).to_string();
    let lines = m
        .cause_metadata
        .as_ref()
        .and_then(|c| c.code.as_ref())
        .and_then(|c| c.lines.as_ref());
    if let Some(lines) = lines {
        let cell = |v: &Option<Value>| match v {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let mut table = String::from("Number\tContent\n");
        for l in lines {
            table.push_str(&format!("{}\t{}\n", cell(&l.number), cell(&l.content)));
        }
        message.push('\n');
        message.push_str(&table);
    }
    let description = format!(
        "**Target:** {target}\n**Type:** {}\n\n{}\n{message}\n",
        s(&m.kind),
        s(&m.description),
    );
    let mut f = ParsedFinding::new(
        format!("{} - {}", s(&m.id), s(&m.title)),
        trivy_severity(m.severity.as_deref()).unwrap_or(Severity::Info),
        description,
    );
    let others: Vec<&str> = m
        .references
        .iter()
        .map(String::as_str)
        .filter(|r| Some(*r) != m.primary_url.as_deref())
        .collect();
    f.references = match m.primary_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => Some(format!("{url}\n{}", others.join("\n"))),
        None => non_blank(others.join("\n")),
    };
    f.mitigation = m.resolution.clone().and_then(non_blank);
    f.fix_available = Some(true);
    f.static_finding = Some(true);
    f.dynamic_finding = Some(false);
    f.tags = tags(&[&t.kind, &t.class]);
    f.service = service;
    if let Some(id) = m.id.clone().and_then(non_blank) {
        f.vulnerability_ids.push(id.clone());
        f.vuln_id_from_tool = Some(id);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::super::robustness::{never_panics, sample};
    use super::*;
    use crate::domain::report::ParsedReport;

    fn parse(json: &str) -> Result<ParsedReport, ParseError> {
        TrivyParser.parse(json.as_bytes(), Some("trivy.json"))
    }

    #[test]
    fn description_and_fields_like_defectdojo() {
        let r = TrivyParser
            .parse(&sample("trivy/scheme_2_many_vulns.json"), None)
            .unwrap();
        let f = &r.findings[0];
        assert_eq!(
            f.description,
            "freetype: Heap-based buffer overflow due to integer truncation in Load_SBit_Png\n\
             **Target:** teamdojo:latest (alpine 3.9.4)\n**Type:** alpine\n**Fixed version:** 2.9.1-r3\n\n\
             Heap buffer overflow in Freetype in Google Chrome prior to 86.0.4240.111 allowed a remote attacker to potentially exploit heap corruption via a crafted HTML page.\n"
        );
        assert_eq!(f.cvssv3_score, Some(6.5));
        assert_eq!(f.tags, ["alpine", "os-pkgs"]);
        assert_eq!(f.publish_date.unwrap().to_string(), "2020-11-03");
        let m = TrivyParser
            .parse(&sample("trivy/kubernetes.json"), None)
            .unwrap();
        let k = &m.findings[10];
        assert!(k.description.starts_with(
            "**Target:** Deployment/redis-follower\n**Type:** Kubernetes Security Check\n\n"
        ));
        assert!(k.description.contains("\nNumber\tContent\n132\t"));
        assert_eq!(
            k.references.as_deref(),
            Some(
                "https://avd.aquasec.com/misconfig/ksv001\nhttps://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted"
            )
        );
        assert_eq!(
            k.service.as_deref(),
            Some("default / Deployment / redis-follower")
        );
    }

    #[test]
    fn documented_variants() {
        // Legacy list; NVD-CWE ids; null lists; CVSS source order; V2 fallback; statuses.
        let r = parse(
            r#"[{"Target":"img","Class":"os-pkgs","Type":"debian","Vulnerabilities":[
                {"VulnerabilityID":"CVE-1","PkgName":"p","InstalledVersion":"1","Severity":"LOW",
                 "CweIDs":["NVD-CWE-Other","CWE-20"],"References":null,"CVSS":null,"Status":"will_not_fix"},
                {"VulnerabilityID":"CVE-2","PkgName":"p","Severity":"LOW","SeveritySource":"ghsa",
                 "CVSS":{"nvd":{"V3Score":9.8},"ghsa":{"V2Score":5.0}}},
                {"VulnerabilityID":"CVE-3","Severity":"HIGH"},
                {"VulnerabilityID":"CVE-4","PkgName":"p","Severity":"WEIRD"}]},
               {"Class":"lang-pkgs","Vulnerabilities":[{"PkgName":"x","Severity":"LOW"}]}]"#,
        )
        .unwrap();
        assert_eq!(r.findings.len(), 2);
        let a = &r.findings[0];
        assert_eq!((a.cwe, a.cwes.clone()), (Some(20), vec![20]));
        assert_eq!((a.severity, a.references.clone()), (Severity::Low, None));
        assert_eq!((a.active, a.verified), (Some(true), Some(true)));
        assert_eq!((a.fix_available, a.mitigation.clone()), (Some(false), None));
        assert_eq!(a.file_path.as_deref(), Some("img"));
        let b = &r.findings[1];
        assert_eq!((b.severity, b.cvssv3_score), (Severity::Medium, None));
        assert_eq!(b.title, "CVE-2 p ");

        // Kubernetes Resources, secrets, licenses, unknown severities.
        let r = parse(
            r#"{"ClusterName":"c","Resources":[{"Kind":"Pod","Name":"web","Results":[
                {"Target":"t","Class":"secret","Secrets":[{"RuleID":"aws","Title":"AWS","Severity":"??","StartLine":3}]},
                {"Target":"t","Class":"license","Licenses":[{"Name":"GPL-3.0","Severity":"HIGH","Confidence":1.0,"PkgName":"q","Link":"https://l"}]}]}]}"#,
        )
        .unwrap();
        assert_eq!(r.findings.len(), 2);
        let s = &r.findings[0];
        assert_eq!(s.service.as_deref(), Some("Pod / web"));
        assert_eq!((s.severity, s.line), (Severity::Info, Some(3)));
        assert_eq!(s.vuln_id_from_tool.as_deref(), Some("aws"));
        let l = &r.findings[1];
        assert_eq!(l.title, "License detected in t - GPL-3.0");
        assert_eq!(l.scanner_confidence, Some(1));
        assert_eq!(l.references.as_deref(), Some("https://l"));

        assert_eq!(parse("null").unwrap().findings.len(), 0);
        assert_eq!(parse("[]").unwrap().findings.len(), 0);
    }

    #[test]
    fn bad_reports_are_errors() {
        assert!(parse("").is_err());
        assert!(parse("\"x\"").is_err());
        let e = parse(r#"{"SchemaVersion":3}"#).unwrap_err();
        assert!(e.message.contains("not supported"));
        let e = parse(
            r#"{"SchemaVersion":2,"Results":[{"Target":"t","Vulnerabilities":[{"PkgName":5}]}]}"#,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "unexpected JSON content: invalid type: integer `5`, expected a string"
        );
        assert_eq!(
            e.at.as_deref(),
            Some("Results[0].Vulnerabilities[0], line 1, column 75")
        );
        let deep = format!(
            "{{\"SchemaVersion\":2,\"Results\":[{{\"Target\":\"t\",\"Vulnerabilities\":[{{\"CVSS\":{{\"nvd\":{}{}}}}}]}}]}}",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        assert!(parse(&deep).is_err());
    }

    #[test]
    fn never_panics_on_damaged_samples() {
        let files = [
            "trivy/scheme_2_many_vulns.json",
            "trivy/misconfigurations_and_secrets.json",
            "trivy/cvss_severity_source.json",
            "trivy/all_statuses.json",
            "trivy/legacy_no_vuln.json",
        ];
        let data: Vec<(&str, Vec<u8>)> = files.iter().map(|f| (*f, sample(f))).collect();
        let samples: Vec<(&str, &[u8])> = data.iter().map(|(n, d)| (*n, d.as_slice())).collect();
        never_panics(&TrivyParser, &samples, 150);
    }
}
