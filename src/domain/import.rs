//! Import and re-import rules that need no database (reference §4): what re-importing a report
//! finding does to the finding it matches, the per-severity statistics an import reports, and the
//! notes DefectDojo writes on the findings an import changes.

use serde::{Deserialize, Serialize};

use super::{Severity, UnknownVariant};

text_enum!(
    /// What an import did to one finding (DefectDojo's Test_Import_Finding_Action: N, C, R, U).
    ImportAction {
        Created => "CREATED",
        Closed => "CLOSED",
        Reactivated => "REACTIVATED",
        Untouched => "UNTOUCHED",
    }
);

text_enum!(
    /// A first import into a new test, or a re-import into an existing one.
    ImportKind {
        Import => "IMPORT",
        Reimport => "REIMPORT",
    }
);

/// The status flags of a stored finding that re-import matching looks at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoredStatus {
    pub active: bool,
    pub is_mitigated: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub risk_accepted: bool,
    pub duplicate: bool,
}

/// The status a report gives one finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportStatus {
    pub is_mitigated: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub risk_accepted: bool,
}

/// What re-importing a report finding does to the stored finding it matched (§4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changes; counted as untouched (it stays out of the set closed afterwards).
    Untouched,
    /// Nothing changes and it is not counted: a false positive, out-of-scope or risk-accepted
    /// finding whose flags differ from the report's (it is already mitigated, so closing old
    /// findings skips it).
    Ignored,
    /// The stored finding was closed and the report has it open again: reopened.
    Reactivate,
    /// As `Reactivate`, but the caller asked not to reactivate: it stays closed and gets a note.
    KeepClosed,
    /// The report says the issue is fixed: the stored finding is closed now.
    Close,
    /// The report marks it a false positive, out of scope or risk accepted: the flags are copied
    /// and the finding goes inactive.
    CopyFlags,
}

/// What happens to a stored finding when a report finding matches it.
pub fn reimport_outcome(
    stored: StoredStatus,
    report: ReportStatus,
    do_not_reactivate: bool,
) -> Outcome {
    if stored.false_p || stored.out_of_scope || stored.risk_accepted {
        let same = stored.false_p == report.false_p
            && stored.out_of_scope == report.out_of_scope
            && stored.risk_accepted == report.risk_accepted;
        return if same || (stored.risk_accepted && !stored.active) {
            Outcome::Untouched
        } else {
            Outcome::Ignored
        };
    }
    if stored.is_mitigated {
        return if report.is_mitigated {
            Outcome::Untouched
        } else if do_not_reactivate {
            Outcome::KeepClosed
        } else {
            Outcome::Reactivate
        };
    }
    if report.is_mitigated {
        Outcome::Close
    } else if report.false_p || report.out_of_scope || report.risk_accepted {
        Outcome::CopyFlags
    } else {
        Outcome::Untouched
    }
}

/// The note on a finding a re-import reactivates.
pub fn reactivated_note(scan_type: &str) -> String {
    format!("Re-activated by {scan_type} re-upload.")
}

/// The note on a finding a re-import leaves closed because of `do_not_reactivate`.
pub fn kept_closed_note(scan_type: &str) -> String {
    format!(
        "Finding has skipped reactivation from {scan_type} re-upload with user decision do_not_reactivate."
    )
}

/// The note on a finding a re-import closes (it is absent from, or fixed in, the new report).
pub fn reimport_closed_note(scan_type: &str) -> String {
    format!("Mitigated by {scan_type} re-upload.")
}

/// The note on a finding an import closes with `close_old_findings`.
pub fn import_closed_note(test_title: &str) -> String {
    format!(
        "This Finding has been automatically closed by the Test: \"{test_title}\" as it is not present anymore in recent scans."
    )
}

/// Counts of findings by status, as DefectDojo's import statistics give them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub active: i64,
    pub verified: i64,
    pub duplicate: i64,
    pub false_p: i64,
    pub out_of_scope: i64,
    pub is_mitigated: i64,
    pub risk_accepted: i64,
    pub total: i64,
}

impl StatusCounts {
    /// Counts one finding of `status`.
    pub fn count(&mut self, status: &FindingFlags) {
        self.active += i64::from(status.active);
        self.verified += i64::from(status.verified);
        self.duplicate += i64::from(status.duplicate);
        self.false_p += i64::from(status.false_p);
        self.out_of_scope += i64::from(status.out_of_scope);
        self.is_mitigated += i64::from(status.is_mitigated);
        self.risk_accepted += i64::from(status.risk_accepted);
        self.total += 1;
    }
}

/// Every status flag of a finding, for statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingFlags {
    pub active: bool,
    pub verified: bool,
    pub duplicate: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub is_mitigated: bool,
    pub risk_accepted: bool,
}

/// Status counts per severity and in total (DefectDojo's `{info, low, medium, high, critical,
/// total}`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityStatistics {
    pub info: StatusCounts,
    pub low: StatusCounts,
    pub medium: StatusCounts,
    pub high: StatusCounts,
    pub critical: StatusCounts,
    pub total: StatusCounts,
}

impl SeverityStatistics {
    /// Counts one finding.
    pub fn count(&mut self, severity: Severity, flags: &FindingFlags) {
        let bucket = match severity {
            Severity::Info => &mut self.info,
            Severity::Low => &mut self.low,
            Severity::Medium => &mut self.medium,
            Severity::High => &mut self.high,
            Severity::Critical => &mut self.critical,
        };
        bucket.count(flags);
        self.total.count(flags);
    }

    /// The statistics of a list of findings.
    pub fn of<'a>(findings: impl IntoIterator<Item = (Severity, &'a FindingFlags)>) -> Self {
        let mut s = Self::default();
        for (severity, flags) in findings {
            s.count(severity, flags);
        }
        s
    }
}

/// What one import changed, per action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    pub created: SeverityStatistics,
    pub closed: SeverityStatistics,
    pub reactivated: SeverityStatistics,
    pub untouched: SeverityStatistics,
}

/// An import's statistics: the test before (re-import only), what changed, and after.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportStatistics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<SeverityStatistics>,
    pub delta: Delta,
    pub after: SeverityStatistics,
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: StoredStatus = StoredStatus {
        active: true,
        is_mitigated: false,
        false_p: false,
        out_of_scope: false,
        risk_accepted: false,
        duplicate: false,
    };

    #[test]
    fn open_findings_stay_close_or_take_flags() {
        let report = ReportStatus::default();
        assert_eq!(reimport_outcome(OPEN, report, false), Outcome::Untouched);
        let fixed = ReportStatus {
            is_mitigated: true,
            ..report
        };
        assert_eq!(reimport_outcome(OPEN, fixed, false), Outcome::Close);
        let fp = ReportStatus {
            false_p: true,
            ..report
        };
        assert_eq!(reimport_outcome(OPEN, fp, false), Outcome::CopyFlags);
    }

    #[test]
    fn closed_findings_come_back_unless_told_not_to() {
        let closed = StoredStatus {
            active: false,
            is_mitigated: true,
            ..OPEN
        };
        let report = ReportStatus::default();
        assert_eq!(reimport_outcome(closed, report, false), Outcome::Reactivate);
        assert_eq!(reimport_outcome(closed, report, true), Outcome::KeepClosed);
        let still_fixed = ReportStatus {
            is_mitigated: true,
            ..report
        };
        assert_eq!(
            reimport_outcome(closed, still_fixed, false),
            Outcome::Untouched
        );
    }

    #[test]
    fn triaged_findings_are_left_alone() {
        let fp = StoredStatus {
            active: false,
            false_p: true,
            is_mitigated: true,
            ..OPEN
        };
        let report = ReportStatus::default();
        assert_eq!(reimport_outcome(fp, report, false), Outcome::Ignored);
        let same = ReportStatus {
            false_p: true,
            ..report
        };
        assert_eq!(reimport_outcome(fp, same, false), Outcome::Untouched);
        let accepted = StoredStatus {
            active: false,
            risk_accepted: true,
            ..OPEN
        };
        assert_eq!(
            reimport_outcome(accepted, report, false),
            Outcome::Untouched
        );
    }

    #[test]
    fn statistics_count_per_severity_and_total() {
        let open = FindingFlags {
            active: true,
            ..Default::default()
        };
        let closed = FindingFlags {
            is_mitigated: true,
            ..Default::default()
        };
        let s = SeverityStatistics::of([
            (Severity::Low, &open),
            (Severity::Low, &closed),
            (Severity::Medium, &open),
        ]);
        assert_eq!((s.low.total, s.low.active, s.low.is_mitigated), (2, 1, 1));
        assert_eq!((s.total.total, s.total.active), (3, 2));
        let json = serde_json::to_value(s).unwrap();
        assert_eq!(json["medium"]["active"], 1);
        assert_eq!(json["total"]["is_mitigated"], 1);
    }
}
