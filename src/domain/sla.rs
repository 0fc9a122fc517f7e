//! SLA deadlines: (SLA start date or discovery date) + the product's days for the severity. The
//! rule's bulk SQL form is `db::finding::recompute_sla`; an integration test computes both for a
//! table of cases and compares them.

use super::Severity;
use chrono::NaiveDate;

/// Days and enforcement per severity, as in a product's SLA configuration. Info has no SLA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    pub critical: Option<i32>,
    pub high: Option<i32>,
    pub medium: Option<i32>,
    pub low: Option<i32>,
}

impl SlaPolicy {
    /// The days allowed for `severity`, or `None` when it has no enforced deadline.
    pub fn days_for(&self, severity: Severity) -> Option<i32> {
        match severity {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Info => None,
        }
    }

    /// The deadline of a finding discovered on `date`, or restarted on `sla_start`.
    pub fn expiration(
        &self,
        severity: Severity,
        date: NaiveDate,
        sla_start: Option<NaiveDate>,
    ) -> Option<NaiveDate> {
        let days = self.days_for(severity)?;
        sla_start
            .unwrap_or(date)
            .checked_add_days(chrono::Days::new(days.max(0) as u64))
    }
}

/// Days left until `expiration` (negative once breached), counted to the mitigation date for a
/// mitigated finding and to `today` otherwise.
pub fn days_remaining(
    expiration: Option<NaiveDate>,
    mitigated_on: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<i64> {
    expiration.map(|e| (e - mitigated_on.unwrap_or(today)).num_days())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    const DEFAULT: SlaPolicy = SlaPolicy {
        critical: Some(7),
        high: Some(30),
        medium: Some(90),
        low: Some(120),
    };

    #[test]
    fn deadlines_follow_severity_and_start() {
        assert_eq!(
            DEFAULT.expiration(Severity::Critical, d("2026-01-01"), None),
            Some(d("2026-01-08"))
        );
        assert_eq!(
            DEFAULT.expiration(Severity::High, d("2026-01-01"), Some(d("2026-02-01"))),
            Some(d("2026-03-03"))
        );
        assert_eq!(
            DEFAULT.expiration(Severity::Info, d("2026-01-01"), None),
            None
        );
        let none = SlaPolicy {
            critical: None,
            ..DEFAULT
        };
        assert_eq!(
            none.expiration(Severity::Critical, d("2026-01-01"), None),
            None
        );
    }

    #[test]
    fn remaining_days() {
        assert_eq!(
            days_remaining(Some(d("2026-01-10")), None, d("2026-01-01")),
            Some(9)
        );
        assert_eq!(
            days_remaining(Some(d("2026-01-10")), None, d("2026-01-12")),
            Some(-2)
        );
        assert_eq!(
            days_remaining(
                Some(d("2026-01-10")),
                Some(d("2026-01-05")),
                d("2026-02-01")
            ),
            Some(5)
        );
        assert_eq!(days_remaining(None, None, d("2026-01-01")), None);
    }
}
