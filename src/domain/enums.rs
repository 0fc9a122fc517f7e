//! The enumerations of the model, stored and served as SCREAMING_CASE names.

/// Defines a closed enumeration stored as text: `as_str`, `FromStr`, `ALL` and `Display`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
                 diesel::AsExpression, diesel::FromSqlRow, serde::Serialize, serde::Deserialize)]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and served name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownVariant { kind: stringify!($name), value: s.to_string() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// A stored or submitted name that is not one of an enumeration's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {kind}")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

text_enum!(
    /// Finding severity, most severe first (the derived `Ord` follows that order).
    Severity {
        Critical => "CRITICAL",
        High => "HIGH",
        Medium => "MEDIUM",
        Low => "LOW",
        Info => "INFO",
    }
);

impl Severity {
    /// DefectDojo's `numerical_severity`: Critical `S0` … Info `S4`.
    pub fn numerical(self) -> &'static str {
        match self {
            Severity::Critical => "S0",
            Severity::High => "S1",
            Severity::Medium => "S2",
            Severity::Low => "S3",
            Severity::Info => "S4",
        }
    }

    /// Case-insensitive parse of scanner spellings ("Critical", "high", "Informational", …).
    pub fn parse_loose(s: &str) -> Option<Severity> {
        match s.trim().to_ascii_lowercase().as_str() {
            "critical" => Some(Severity::Critical),
            "high" => Some(Severity::High),
            "medium" | "moderate" => Some(Severity::Medium),
            "low" => Some(Severity::Low),
            "info" | "informational" | "information" | "none" => Some(Severity::Info),
            _ => None,
        }
    }
}

text_enum!(
    /// How an engagement is run.
    EngagementType {
        Interactive => "INTERACTIVE",
        CiCd => "CI_CD",
    }
);

text_enum!(
    /// The eight engagement statuses.
    EngagementStatus {
        NotStarted => "NOT_STARTED",
        Blocked => "BLOCKED",
        Cancelled => "CANCELLED",
        Completed => "COMPLETED",
        InProgress => "IN_PROGRESS",
        OnHold => "ON_HOLD",
        Scheduled => "SCHEDULED",
        WaitingForResource => "WAITING_FOR_RESOURCE",
    }
);

text_enum!(
    /// How critical a product is to the business.
    BusinessCriticality {
        VeryHigh => "VERY_HIGH",
        High => "HIGH",
        Medium => "MEDIUM",
        Low => "LOW",
        VeryLow => "VERY_LOW",
        None => "NONE",
    }
);

text_enum!(
    /// A product's platform.
    Platform {
        WebService => "WEB_SERVICE",
        Desktop => "DESKTOP",
        Iot => "IOT",
        Mobile => "MOBILE",
        Web => "WEB",
    }
);

text_enum!(
    /// A product's lifecycle stage.
    Lifecycle {
        Construction => "CONSTRUCTION",
        Production => "PRODUCTION",
        Retirement => "RETIREMENT",
    }
);

text_enum!(
    /// Where a product comes from.
    Origin {
        ThirdPartyLibrary => "THIRD_PARTY_LIBRARY",
        Purchased => "PURCHASED",
        Contractor => "CONTRACTOR",
        Internal => "INTERNAL",
        OpenSource => "OPEN_SOURCE",
        Outsourced => "OUTSOURCED",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_order() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>().unwrap(), *s);
        }
        assert!(Severity::Critical < Severity::Info);
        assert_eq!(Severity::High.numerical(), "S1");
        assert!("Nope".parse::<EngagementStatus>().is_err());
        assert_eq!(Severity::parse_loose("Informational"), Some(Severity::Info));
    }
}

text_enum!(
    /// An access role (reference §7.1), lowest first: the derived `Ord` ranks them, so the
    /// highest of several applicable roles is their `max`.
    Role {
        Reader => "READER",
        ApiImporter => "API_IMPORTER",
        Writer => "WRITER",
        Maintainer => "MAINTAINER",
        Owner => "OWNER",
    }
);
