//! CVSS vectors as DefectDojo reads them (the `cvss` Python package behind its
//! `parse_cvss_data` and `parse_cvss_from_text`): a v3.0/v3.1 vector is validated, cleaned
//! (canonical metric order, optional metrics left at `X` dropped) and scored (base, temporal,
//! environmental, FIRST's formulas and rounding); a v4.0 vector is validated and cleaned.

use crate::domain::Severity;

const BASE3: [(&str, &[&str]); 8] = [
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "R"]),
    ("S", &["U", "C"]),
    ("C", &["H", "L", "N"]),
    ("I", &["H", "L", "N"]),
    ("A", &["H", "L", "N"]),
];

const OPTIONAL3: [(&str, &[&str]); 14] = [
    ("E", &["X", "H", "F", "P", "U"]),
    ("RL", &["X", "U", "W", "T", "O"]),
    ("RC", &["X", "C", "R", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "R"]),
    ("MS", &["X", "U", "C"]),
    ("MC", &["X", "H", "L", "N"]),
    ("MI", &["X", "H", "L", "N"]),
    ("MA", &["X", "H", "L", "N"]),
];

/// A valid CVSS v3.0 or v3.1 vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Cvss3 {
    /// 0 or 1.
    minor: u8,
    /// Value per metric, in `BASE3` then `OPTIONAL3` order; optional ones `"X"` when absent.
    values: Vec<&'static str>,
}

impl Cvss3 {
    /// Parses `CVSS:3.x/AV:…/…`: every base metric once, known optional metrics at most once.
    pub fn parse(vector: &str) -> Option<Cvss3> {
        let rest = vector.trim().strip_prefix("CVSS:3.")?;
        let (minor, rest) = rest.split_once('/')?;
        let minor = match minor {
            "0" => 0,
            "1" => 1,
            _ => return None,
        };
        let all: Vec<(&str, &[&str])> = BASE3.iter().chain(OPTIONAL3.iter()).copied().collect();
        let mut values: Vec<Option<&'static str>> = vec![None; all.len()];
        for part in rest.split('/') {
            let (name, value) = part.split_once(':')?;
            let idx = all.iter().position(|(n, _)| *n == name)?;
            let allowed = all[idx].1.iter().find(|v| **v == value)?;
            if values[idx].replace(allowed).is_some() {
                return None;
            }
        }
        if values[..BASE3.len()].iter().any(Option::is_none) {
            return None;
        }
        Some(Cvss3 {
            minor,
            values: values.into_iter().map(|v| v.unwrap_or("X")).collect(),
        })
    }

    fn get(&self, name: &str) -> &'static str {
        let idx = BASE3
            .iter()
            .chain(OPTIONAL3.iter())
            .position(|(n, _)| *n == name)
            .unwrap_or(0);
        self.values[idx]
    }

    /// Modified metric, falling back to the base one when `X`.
    fn modified(&self, name: &str) -> &'static str {
        match self.get(&format!("M{name}")) {
            "X" => self.get(name),
            v => v,
        }
    }

    /// The vector in canonical order without optional metrics left at `X`.
    pub fn clean_vector(&self) -> String {
        let mut s = format!("CVSS:3.{}", self.minor);
        for ((name, _), value) in BASE3.iter().chain(OPTIONAL3.iter()).zip(&self.values) {
            if *value != "X" || BASE3.iter().any(|(n, _)| n == name) {
                s.push('/');
                s.push_str(name);
                s.push(':');
                s.push_str(value);
            }
        }
        s
    }

    fn roundup(&self, x: f64) -> f64 {
        if self.minor == 0 {
            (x * 10.0 - 1e-9).ceil() / 10.0
        } else {
            let int_input = (x * 100_000.0).round() as i64;
            if int_input % 10_000 == 0 {
                int_input as f64 / 100_000.0
            } else {
                ((int_input / 10_000) + 1) as f64 / 10.0
            }
        }
    }

    fn weights(av: &str, ac: &str, pr: &str, ui: &str, changed: bool) -> f64 {
        let av = match av {
            "N" => 0.85,
            "A" => 0.62,
            "L" => 0.55,
            _ => 0.2,
        };
        let ac = if ac == "L" { 0.77 } else { 0.44 };
        let pr = match (pr, changed) {
            ("N", _) => 0.85,
            ("L", false) => 0.62,
            ("L", true) => 0.68,
            (_, false) => 0.27,
            (_, true) => 0.5,
        };
        let ui = if ui == "N" { 0.85 } else { 0.62 };
        8.22 * av * ac * pr * ui
    }

    fn cia(v: &str) -> f64 {
        match v {
            "H" => 0.56,
            "L" => 0.22,
            _ => 0.0,
        }
    }

    fn temporal_factor(&self) -> f64 {
        let e = match self.get("E") {
            "F" => 0.97,
            "P" => 0.94,
            "U" => 0.91,
            _ => 1.0,
        };
        let rl = match self.get("RL") {
            "W" => 0.97,
            "T" => 0.96,
            "O" => 0.95,
            _ => 1.0,
        };
        let rc = match self.get("RC") {
            "R" => 0.96,
            "U" => 0.92,
            _ => 1.0,
        };
        e * rl * rc
    }

    /// The base score.
    pub fn base_score(&self) -> f64 {
        let changed = self.get("S") == "C";
        let iss = 1.0
            - (1.0 - Self::cia(self.get("C")))
                * (1.0 - Self::cia(self.get("I")))
                * (1.0 - Self::cia(self.get("A")));
        let impact = if changed {
            7.52 * (iss - 0.029) - 3.25 * (iss - 0.02).powi(15)
        } else {
            6.42 * iss
        };
        if impact <= 0.0 {
            return 0.0;
        }
        let expl = Self::weights(
            self.get("AV"),
            self.get("AC"),
            self.get("PR"),
            self.get("UI"),
            changed,
        );
        if changed {
            self.roundup((1.08 * (impact + expl)).min(10.0))
        } else {
            self.roundup((impact + expl).min(10.0))
        }
    }

    /// The temporal score.
    pub fn temporal_score(&self) -> f64 {
        self.roundup(self.base_score() * self.temporal_factor())
    }

    /// The environmental score (what DefectDojo stores as `cvssv3_score`; the base score when
    /// the vector has no environmental or temporal metrics).
    pub fn environmental_score(&self) -> f64 {
        let changed = self.modified("S") == "C";
        let req = |name: &str| match self.get(name) {
            "H" => 1.5,
            "L" => 0.5,
            _ => 1.0,
        };
        let miss = (1.0
            - (1.0 - req("CR") * Self::cia(self.modified("C")))
                * (1.0 - req("IR") * Self::cia(self.modified("I")))
                * (1.0 - req("AR") * Self::cia(self.modified("A"))))
        .min(0.915);
        let impact = if changed {
            if self.minor == 0 {
                7.52 * (miss - 0.029) - 3.25 * (miss - 0.02).powi(15)
            } else {
                7.52 * (miss - 0.029) - 3.25 * (miss * 0.9731 - 0.02).powi(13)
            }
        } else {
            6.42 * miss
        };
        if impact <= 0.0 {
            return 0.0;
        }
        let expl = Self::weights(
            self.modified("AV"),
            self.modified("AC"),
            self.modified("PR"),
            self.modified("UI"),
            changed,
        );
        let inner = if changed {
            self.roundup((1.08 * (impact + expl)).min(10.0))
        } else {
            self.roundup((impact + expl).min(10.0))
        };
        self.roundup(inner * self.temporal_factor())
    }

    /// The qualitative rating of the base score (DefectDojo takes the severity from it).
    pub fn base_severity(&self) -> Severity {
        severity_of_score(self.base_score())
    }
}

/// CVSS's qualitative rating: 0 None (Info here), < 4 Low, < 7 Medium, < 9 High, else Critical.
pub fn severity_of_score(score: f64) -> Severity {
    if score <= 0.0 {
        Severity::Info
    } else if score < 4.0 {
        Severity::Low
    } else if score < 7.0 {
        Severity::Medium
    } else if score < 9.0 {
        Severity::High
    } else {
        Severity::Critical
    }
}

/// The first valid v3 vector in free text (`parse_cvss_from_text`).
pub fn find_cvss3(text: &str) -> Option<Cvss3> {
    candidates(text, "CVSS:3.").find_map(Cvss3::parse)
}

const BASE4: [(&str, &[&str]); 11] = [
    ("AV", &["N", "A", "L", "P"]),
    ("AC", &["L", "H"]),
    ("AT", &["N", "P"]),
    ("PR", &["N", "L", "H"]),
    ("UI", &["N", "P", "A"]),
    ("VC", &["H", "L", "N"]),
    ("VI", &["H", "L", "N"]),
    ("VA", &["H", "L", "N"]),
    ("SC", &["H", "L", "N"]),
    ("SI", &["H", "L", "N"]),
    ("SA", &["H", "L", "N"]),
];

const OPTIONAL4: [(&str, &[&str]); 21] = [
    ("E", &["X", "A", "P", "U"]),
    ("CR", &["X", "H", "M", "L"]),
    ("IR", &["X", "H", "M", "L"]),
    ("AR", &["X", "H", "M", "L"]),
    ("MAV", &["X", "N", "A", "L", "P"]),
    ("MAC", &["X", "L", "H"]),
    ("MAT", &["X", "N", "P"]),
    ("MPR", &["X", "N", "L", "H"]),
    ("MUI", &["X", "N", "P", "A"]),
    ("MVC", &["X", "H", "L", "N"]),
    ("MVI", &["X", "H", "L", "N"]),
    ("MVA", &["X", "H", "L", "N"]),
    ("MSC", &["X", "H", "L", "N"]),
    ("MSI", &["X", "S", "H", "L", "N"]),
    ("MSA", &["X", "S", "H", "L", "N"]),
    ("S", &["X", "N", "P"]),
    ("AU", &["X", "N", "Y"]),
    ("R", &["X", "A", "U", "I"]),
    ("V", &["X", "D", "C"]),
    ("RE", &["X", "L", "M", "H"]),
    ("U", &["X", "Clear", "Green", "Amber", "Red"]),
];

/// A valid CVSS v4.0 vector, cleaned; `None` when it is not one.
pub fn clean_cvss4(vector: &str) -> Option<String> {
    let rest = vector.trim().strip_prefix("CVSS:4.0/")?;
    let all: Vec<(&str, &[&str])> = BASE4.iter().chain(OPTIONAL4.iter()).copied().collect();
    let mut values: Vec<Option<&str>> = vec![None; all.len()];
    for part in rest.split('/') {
        let (name, value) = part.split_once(':')?;
        let idx = all.iter().position(|(n, _)| *n == name)?;
        let allowed = all[idx].1.iter().find(|v| **v == value)?;
        if values[idx].replace(allowed).is_some() {
            return None;
        }
    }
    if values[..BASE4.len()].iter().any(Option::is_none) {
        return None;
    }
    let mut s = String::from("CVSS:4.0");
    for (i, ((name, _), value)) in all.iter().zip(&values).enumerate() {
        match value {
            Some(v) if i < BASE4.len() || *v != "X" => {
                s.push('/');
                s.push_str(name);
                s.push(':');
                s.push_str(v);
            }
            _ => {}
        }
    }
    Some(s)
}

/// The first valid v4 vector in free text, cleaned.
pub fn find_cvss4(text: &str) -> Option<String> {
    candidates(text, "CVSS:4.0/").find_map(clean_cvss4)
}

/// Each run of vector characters starting at `prefix` in `text`.
fn candidates<'a>(text: &'a str, prefix: &'static str) -> impl Iterator<Item = &'a str> + 'a {
    text.match_indices(prefix).map(move |(i, _)| {
        let rest = &text[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.')))
            .unwrap_or(rest.len());
        rest[..end].trim_end_matches(['/', '.'])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Scores from the `cvss` Python package DefectDojo uses.
    #[test]
    fn scores_like_the_reference() {
        for (vector, base, temporal, env, clean) in [
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H",
                6.5,
                6.5,
                6.5,
                None,
            ),
            (
                "CVSS:3.0/AV:L/AC:L/PR:N/UI:R/S:U/C:H/I:H/A:H",
                7.8,
                7.8,
                7.8,
                None,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:H/UI:R/S:C/C:L/I:L/A:N",
                4.8,
                4.8,
                4.8,
                None,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H/E:P/RL:O/RC:C",
                9.9,
                8.9,
                9.0,
                None,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H/E:X/CR:H/MAV:L/MS:U/MPR:H",
                9.9,
                9.9,
                6.7,
                Some("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H/CR:H/MAV:L/MPR:H/MS:U"),
            ),
            (
                "CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H/CR:H/IR:H/AR:H/MS:C/MC:H",
                9.9,
                9.9,
                9.9,
                None,
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H/CR:H/IR:H/AR:H/MS:C/MC:H",
                9.9,
                9.9,
                10.0,
                None,
            ),
        ] {
            let c = Cvss3::parse(vector).unwrap();
            assert_eq!(c.base_score(), base, "{vector}");
            assert_eq!(c.temporal_score(), temporal, "{vector}");
            assert_eq!(c.environmental_score(), env, "{vector}");
            assert_eq!(c.clean_vector(), clean.unwrap_or(vector));
        }
        let none = Cvss3::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N").unwrap();
        assert_eq!(
            (none.base_score(), none.base_severity()),
            (0.0, Severity::Info)
        );
    }

    #[test]
    fn refuses_bad_vectors() {
        assert!(Cvss3::parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N").is_none());
        assert!(Cvss3::parse("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H").is_none());
        assert!(Cvss3::parse("CVSS:3.2/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H").is_none());
        assert!(Cvss3::parse("CVSS:3.1/AV:Q/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H").is_none());
        assert!(Cvss3::parse("").is_none());
    }

    #[test]
    fn finds_vectors_in_text() {
        let text = "see CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H/E:X. and \
                    CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:X";
        assert_eq!(
            find_cvss3(text).unwrap().clean_vector(),
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:N/I:N/A:H"
        );
        assert_eq!(
            find_cvss4(text).as_deref(),
            Some("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
        );
        assert!(find_cvss3("nothing").is_none());
    }
}
