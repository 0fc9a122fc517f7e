//! A scanner report as the parsers hand it over (`import::parsers`): normalized findings with the
//! fields of DefectDojo's `Finding` a parser can fill, their endpoints and attached files. Pure
//! data; the import service deduplicates and stores it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{Invalid, Severity};

/// What a parser read from one report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ParsedReport {
    /// The findings, in report order (the import keeps it).
    pub findings: Vec<ParsedFinding>,
    /// The tool's version, when the report names it (a test's `version` may default to it).
    pub tool_version: Option<String>,
}

/// One finding of a report. `None` means "the report does not say" (the import applies
/// DefectDojo's defaults: active, unverified, dynamic unless it has a file path, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedFinding {
    pub title: String,
    pub severity: Severity,
    pub description: String,
    pub mitigation: Option<String>,
    pub impact: Option<String>,
    pub references: Option<String>,
    pub steps_to_reproduce: Option<String>,
    pub severity_justification: Option<String>,
    /// The request parameter (web scanners).
    pub param: Option<String>,
    /// The attack payload (web scanners).
    pub payload: Option<String>,
    /// The primary CWE (DefectDojo's `cwe`; 0 and absent are the same).
    pub cwe: Option<i32>,
    /// Every CWE the report names, the primary one included.
    pub cwes: Vec<i32>,
    /// CVE, GHSA, … ids; the first is DefectDojo's `cve`.
    pub vulnerability_ids: Vec<String>,
    pub cvssv3: Option<String>,
    pub cvssv3_score: Option<f64>,
    pub cvssv4: Option<String>,
    pub cvssv4_score: Option<f64>,
    pub file_path: Option<String>,
    pub line: Option<i32>,
    pub component_name: Option<String>,
    pub component_version: Option<String>,
    pub unique_id_from_tool: Option<String>,
    pub vuln_id_from_tool: Option<String>,
    pub service: Option<String>,
    /// How many hits of the report were folded into this finding.
    pub nb_occurences: Option<i32>,
    /// DefectDojo's scale: ≤ 2 Certain, 3–5 Firm, else Tentative.
    pub scanner_confidence: Option<i32>,
    pub fix_available: Option<bool>,
    pub fix_version: Option<String>,
    pub epss_score: Option<f64>,
    pub epss_percentile: Option<f64>,
    pub known_exploited: Option<bool>,
    pub publish_date: Option<NaiveDate>,
    /// When the issue was found; the import's scan date (or today) when absent.
    pub date: Option<NaiveDate>,
    pub active: Option<bool>,
    pub verified: Option<bool>,
    pub false_p: Option<bool>,
    pub is_mitigated: Option<bool>,
    pub mitigated: Option<DateTime<Utc>>,
    pub static_finding: Option<bool>,
    pub dynamic_finding: Option<bool>,
    pub tags: Vec<String>,
    pub endpoints: Vec<Endpoint>,
    pub files: Vec<ReportFile>,
}

impl ParsedFinding {
    /// A finding with its three required fields and nothing else.
    pub fn new(
        title: impl Into<String>,
        severity: Severity,
        description: impl Into<String>,
    ) -> Self {
        Self {
            title: title.into(),
            severity,
            description: description.into(),
            mitigation: None,
            impact: None,
            references: None,
            steps_to_reproduce: None,
            severity_justification: None,
            param: None,
            payload: None,
            cwe: None,
            cwes: Vec::new(),
            vulnerability_ids: Vec::new(),
            cvssv3: None,
            cvssv3_score: None,
            cvssv4: None,
            cvssv4_score: None,
            file_path: None,
            line: None,
            component_name: None,
            component_version: None,
            unique_id_from_tool: None,
            vuln_id_from_tool: None,
            service: None,
            nb_occurences: None,
            scanner_confidence: None,
            fix_available: None,
            fix_version: None,
            epss_score: None,
            epss_percentile: None,
            known_exploited: None,
            publish_date: None,
            date: None,
            active: None,
            verified: None,
            false_p: None,
            is_mitigated: None,
            mitigated: None,
            static_finding: None,
            dynamic_finding: None,
            tags: Vec::new(),
            endpoints: Vec::new(),
            files: Vec::new(),
        }
    }

    /// DefectDojo's label of `scanner_confidence`.
    pub fn scanner_confidence_text(&self) -> Option<&'static str> {
        self.scanner_confidence.map(confidence_text)
    }
}

/// DefectDojo's wording of a scanner confidence: ≤ 2 Certain, 3–5 Firm, else Tentative.
pub fn confidence_text(confidence: i32) -> &'static str {
    match confidence {
        ..=2 => "Certain",
        3..=5 => "Firm",
        _ => "Tentative",
    }
}

/// A file a report carries for a finding (e.g. a screenshot), decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportFile {
    pub title: String,
    #[serde(skip)]
    pub data: Vec<u8>,
}

/// Where a finding was seen: a URL split into DefectDojo's endpoint fields. `path`, `query` and
/// `fragment` carry no leading `/`, `?` or `#`; a missing port is the protocol's default (https
/// 443, http 80 and a few others) when the protocol is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Endpoint {
    pub protocol: Option<String>,
    pub userinfo: Option<String>,
    pub host: Option<String>,
    pub port: Option<i32>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub fragment: Option<String>,
}

/// The port a protocol uses when a URL names none.
pub fn default_port(protocol: &str) -> Option<i32> {
    Some(match protocol.to_ascii_lowercase().as_str() {
        "http" | "ws" => 80,
        "https" | "wss" => 443,
        "ftp" => 21,
        "ssh" | "sftp" => 22,
        "telnet" => 23,
        "smtp" => 25,
        "dns" => 53,
        "ldap" => 389,
        "ldaps" => 636,
        "mysql" => 3306,
        "postgres" | "postgresql" => 5432,
        "redis" => 6379,
        _ => return None,
    })
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

impl Endpoint {
    /// Parses a URL (`https://host:8443/a?b#c`), or a host with optional port and path without a
    /// scheme (`host:8080/a`). Refuses text that names no host.
    pub fn parse(raw: &str) -> Result<Endpoint, Invalid> {
        let raw = raw.trim();
        let bad = || Invalid(format!("{raw:?} is not a URL or host"));
        let (protocol, rest) = match raw.split_once("://") {
            Some((scheme, rest))
                if !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
            {
                (Some(scheme.to_ascii_lowercase()), rest)
            }
            _ => (None, raw.strip_prefix("//").unwrap_or(raw)),
        };
        // authority [/path] [?query] [#fragment]
        let (rest, fragment) = match rest.split_once('#') {
            Some((r, f)) => (r, non_empty(f)),
            None => (rest, None),
        };
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, non_empty(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, non_empty(p)),
            None => (rest, None),
        };
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (non_empty(u), h),
            None => (None, authority),
        };
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or_else(bad)?;
            let port = after.strip_prefix(':').filter(|p| !p.is_empty());
            (format!("[{h}]"), port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p).filter(|p| !p.is_empty())),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '\0') {
            return Err(bad());
        }
        let port = match port {
            Some(p) => Some(
                p.parse::<u16>()
                    .map_err(|_| Invalid(format!("{raw:?} has an invalid port")))?
                    as i32,
            ),
            None => protocol.as_deref().and_then(default_port),
        };
        Ok(Endpoint {
            protocol,
            userinfo,
            host: Some(host.to_ascii_lowercase()),
            port,
            path,
            query,
            fragment,
        })
    }

    /// The normalized URL (DefectDojo compares endpoints and builds hash codes with it): the
    /// default port of the protocol left out.
    pub fn url(&self) -> String {
        let mut s = String::new();
        if let Some(p) = &self.protocol {
            s.push_str(p);
            s.push_str("://");
        }
        if let Some(u) = &self.userinfo {
            s.push_str(u);
            s.push('@');
        }
        if let Some(h) = &self.host {
            s.push_str(h);
        }
        let default = self.protocol.as_deref().and_then(default_port);
        if let Some(port) = self.port
            && Some(port) != default
        {
            s.push_str(&format!(":{port}"));
        }
        if let Some(p) = &self.path {
            s.push('/');
            s.push_str(p);
        }
        if let Some(q) = &self.query {
            s.push('?');
            s.push_str(q);
        }
        if let Some(f) = &self.fragment {
            s.push('#');
            s.push_str(f);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_bare_hosts() {
        let e = Endpoint::parse("https://Vulnerable.endpoint.com/resource1/asdf?a=1#top").unwrap();
        assert_eq!(e.protocol.as_deref(), Some("https"));
        assert_eq!(e.host.as_deref(), Some("vulnerable.endpoint.com"));
        assert_eq!(e.port, Some(443));
        assert_eq!(e.path.as_deref(), Some("resource1/asdf"));
        assert_eq!(e.query.as_deref(), Some("a=1"));
        assert_eq!(e.fragment.as_deref(), Some("top"));
        assert_eq!(
            e.url(),
            "https://vulnerable.endpoint.com/resource1/asdf?a=1#top"
        );
        let bare = Endpoint::parse("localhost:8080/x").unwrap();
        assert_eq!((bare.protocol, bare.port), (None, Some(8080)));
        assert_eq!(Endpoint::parse("http://h").unwrap().port, Some(80));
        let v6 = Endpoint::parse("http://user@[::1]:81/").unwrap();
        assert_eq!(
            (v6.host.as_deref(), v6.port, v6.userinfo.as_deref(), v6.path),
            (Some("[::1]"), Some(81), Some("user"), None)
        );
        assert!(Endpoint::parse("").is_err());
        assert!(Endpoint::parse("http://h:99999").is_err());
        assert_eq!(
            Endpoint::parse("http://h:8080/").unwrap().url(),
            "http://h:8080"
        );
    }

    #[test]
    fn labels_confidence_like_defectdojo() {
        assert_eq!(confidence_text(1), "Certain");
        assert_eq!(confidence_text(2), "Certain");
        assert_eq!(confidence_text(5), "Firm");
        assert_eq!(confidence_text(6), "Tentative");
    }
}
