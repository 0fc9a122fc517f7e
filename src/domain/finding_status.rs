//! Finding status invariants (reference §2.6): what follows from setting one status flag, and
//! which combinations are refused.

use super::Invalid;
use chrono::{DateTime, Utc};

/// The status part of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub active: bool,
    pub verified: bool,
    pub false_p: bool,
    pub out_of_scope: bool,
    pub risk_accepted: bool,
    pub under_review: bool,
    pub is_mitigated: bool,
    pub mitigated: Option<DateTime<Utc>>,
    pub duplicate: bool,
}

impl Default for Status {
    /// A new finding: active, nothing else.
    fn default() -> Self {
        Self {
            active: true,
            verified: false,
            false_p: false,
            out_of_scope: false,
            risk_accepted: false,
            under_review: false,
            is_mitigated: false,
            mitigated: None,
            duplicate: false,
        }
    }
}

/// The flags a caller set explicitly; `None` leaves a flag to the rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusChange {
    pub active: Option<bool>,
    pub verified: Option<bool>,
    pub false_p: Option<bool>,
    pub out_of_scope: Option<bool>,
    pub risk_accepted: Option<bool>,
    pub under_review: Option<bool>,
    pub is_mitigated: Option<bool>,
    pub mitigated: Option<DateTime<Utc>>,
    pub duplicate: Option<bool>,
}

impl StatusChange {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn conflict(msg: &str) -> Invalid {
    Invalid(msg.to_string())
}

/// Applies `change` to `current` at time `now`, following DefectDojo's status helper:
/// - becoming active clears falsePositive, outOfScope and the mitigation;
/// - becoming a false positive or out of scope mitigates the finding and makes it inactive and
///   unverified;
/// - becoming mitigated stamps `mitigated` (now unless given) and makes it inactive; un-mitigating
///   clears the stamp;
/// - becoming a duplicate makes it inactive and unverified.
///
/// Refused: a duplicate that is active or verified, a verified false positive, an active
/// risk-accepted finding, and contradictory flags in one change.
pub fn apply(current: Status, change: StatusChange, now: DateTime<Utc>) -> Result<Status, Invalid> {
    let mut s = current;
    let set = |flag: Option<bool>, old: bool| flag.unwrap_or(old);
    s.active = set(change.active, s.active);
    s.verified = set(change.verified, s.verified);
    s.false_p = set(change.false_p, s.false_p);
    s.out_of_scope = set(change.out_of_scope, s.out_of_scope);
    s.risk_accepted = set(change.risk_accepted, s.risk_accepted);
    s.under_review = set(change.under_review, s.under_review);
    s.is_mitigated = set(change.is_mitigated, s.is_mitigated);
    s.duplicate = set(change.duplicate, s.duplicate);

    let explicit_true = |flag: Option<bool>| flag == Some(true);

    if explicit_true(change.active) && !current.active {
        if explicit_true(change.false_p) || explicit_true(change.out_of_scope) {
            return Err(conflict(
                "a false positive or out-of-scope finding cannot be active",
            ));
        }
        if explicit_true(change.is_mitigated) {
            return Err(conflict("a mitigated finding cannot be active"));
        }
        s.false_p = false;
        s.out_of_scope = false;
        s.is_mitigated = false;
    }
    if (s.false_p && !current.false_p) || (s.out_of_scope && !current.out_of_scope) {
        if explicit_true(change.active) {
            return Err(conflict(
                "a false positive or out-of-scope finding cannot be active",
            ));
        }
        if explicit_true(change.verified) && s.false_p {
            return Err(conflict("a false positive cannot be verified"));
        }
        s.is_mitigated = true;
        s.active = false;
        s.verified = false;
    }
    if s.is_mitigated && !current.is_mitigated {
        if explicit_true(change.active) {
            return Err(conflict("a mitigated finding cannot be active"));
        }
        s.active = false;
    }
    if s.duplicate && !current.duplicate {
        if explicit_true(change.active) || explicit_true(change.verified) {
            return Err(conflict("a duplicate finding cannot be active or verified"));
        }
        s.active = false;
        s.verified = false;
    }

    s.mitigated = if s.is_mitigated {
        change.mitigated.or(current.mitigated).or(Some(now))
    } else {
        None
    };

    if s.duplicate && (s.active || s.verified) {
        return Err(conflict("a duplicate finding cannot be active or verified"));
    }
    if s.false_p && s.verified {
        return Err(conflict("a false positive cannot be verified"));
    }
    if s.active && s.risk_accepted {
        return Err(conflict("a risk-accepted finding cannot be active"));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-01-05T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn false_positive_mitigates_and_deactivates() {
        let s = Status {
            verified: true,
            ..Status::default()
        };
        let out = apply(
            s,
            StatusChange {
                false_p: Some(true),
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        assert!(out.false_p && out.is_mitigated && !out.active && !out.verified);
        assert_eq!(out.mitigated, Some(now()));
    }

    #[test]
    fn reactivation_clears_closure() {
        let closed = apply(
            Status::default(),
            StatusChange {
                out_of_scope: Some(true),
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        let open = apply(
            closed,
            StatusChange {
                active: Some(true),
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        assert!(open.active && !open.out_of_scope && !open.is_mitigated);
        assert_eq!(open.mitigated, None);
    }

    #[test]
    fn mitigation_keeps_given_timestamp() {
        let at: DateTime<Utc> = "2025-12-24T00:00:00Z".parse().unwrap();
        let out = apply(
            Status::default(),
            StatusChange {
                is_mitigated: Some(true),
                mitigated: Some(at),
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        assert_eq!(out.mitigated, Some(at));
        assert!(!out.active);
    }

    #[test]
    fn refuses_contradictions() {
        let base = Status::default();
        let bad = [
            StatusChange {
                active: Some(true),
                risk_accepted: Some(true),
                ..Default::default()
            },
            StatusChange {
                false_p: Some(true),
                verified: Some(true),
                ..Default::default()
            },
            StatusChange {
                duplicate: Some(true),
                active: Some(true),
                ..Default::default()
            },
            StatusChange {
                is_mitigated: Some(true),
                active: Some(true),
                ..Default::default()
            },
        ];
        for change in bad {
            assert!(apply(base, change, now()).is_err(), "{change:?}");
        }
    }

    #[test]
    fn duplicate_is_inactive() {
        let out = apply(
            Status {
                verified: true,
                ..Status::default()
            },
            StatusChange {
                duplicate: Some(true),
                ..Default::default()
            },
            now(),
        )
        .unwrap();
        assert!(out.duplicate && !out.active && !out.verified);
    }
}
