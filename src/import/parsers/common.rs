//! Small rules the parsers share, as DefectDojo applies them: CWE and CVE spotting, its
//! boolean and date readings (`dateutil`), title shortening (`textwrap.shorten`), and order-keeping
//! helpers for lists that must not repeat.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

/// `"CWE-79"` / `"79"` → 79 (case-insensitive, positive); anything else → `None`.
pub fn cwe_number(value: &str) -> Option<i32> {
    let v = value.trim();
    let v = match v.get(..4) {
        Some(head) if head.eq_ignore_ascii_case("cwe-") => &v[4..],
        _ => v,
    };
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<i32>().ok().filter(|n| *n > 0)
}

/// The first `cwe-<digits>` anywhere in `text` (case-insensitive), as DefectDojo's `cwe-\d+`
/// search does (`"external/cwe/cwe-079"` → 79).
pub fn find_cwe(text: &str) -> Option<i32> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 4 < bytes.len() {
        if bytes[i..i + 4].eq_ignore_ascii_case(b"cwe-") && bytes[i + 4].is_ascii_digit() {
            let digits: String = text[i + 4..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .take(9)
                .collect();
            return digits.parse().ok();
        }
        i += 1;
    }
    None
}

/// CWEs from free text, one per line or comma-separated (`"89, CWE-79"`), in order, without
/// repeats; non-numeric tokens are ignored (DefectDojo's `parse_cwes`).
pub fn parse_cwes(text: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for token in text.split(|c: char| c == ',' || c.is_whitespace()) {
        if let Some(n) = cwe_number(token) {
            push_unique(&mut out, n);
        }
    }
    out
}

/// The first `CVE-<year>-<n>` in `text` (case-insensitive), upper-cased.
pub fn find_cve(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i + 4 <= bytes.len() {
        if bytes[i..i + 4].eq_ignore_ascii_case(b"cve-") {
            let rest = &text[i + 4..];
            let year: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
            if !year.is_empty() && rest[year.len()..].starts_with('-') {
                let num: String = rest[year.len() + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect();
                if !num.is_empty() {
                    return Some(format!("CVE-{year}-{num}"));
                }
            }
        }
        i += 1;
    }
    None
}

/// Appends `item` unless an equal one is already there.
pub fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// `None` for an empty or blank string, the trimmed-of-nothing string otherwise.
pub fn non_blank(s: impl Into<String>) -> Option<String> {
    let s = s.into();
    (!s.trim().is_empty()).then_some(s)
}

/// DefectDojo's CSV boolean: true when the value starts with `t`/`T` (`TRUE`, `true`, `t`).
pub fn convert_bool(value: &str) -> bool {
    value.trim_start().starts_with(['t', 'T'])
}

/// A boolean spelled as text (`true`/`false`, `yes`/`no`, `1`/`0`, `t`/`f`, `on`/`off`).
pub fn loose_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "t" | "yes" | "y" | "1" | "on" => Some(true),
        "false" | "f" | "no" | "n" | "0" | "off" | "" => Some(false),
        _ => None,
    }
}

/// Python's `textwrap.shorten(text, width)` with its `" [...]"` placeholder: whitespace runs
/// collapse to one space; a longer text is cut at a word boundary (or after a hyphen inside a
/// hyphenated word) so that it fits with the placeholder.
///
/// Where Python's gives up (a first word longer than the width comes out as the bare `[...]`),
/// ours keeps the first `width - 6` characters of that word: a title should say something.
pub fn shorten(text: &str, width: usize) -> String {
    const PLACEHOLDER: &str = " [...]";
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= width {
        return collapsed;
    }
    // textwrap's chunks: words, split after a hyphen between letters ("well-known").
    let budget = width.saturating_sub(PLACEHOLDER.len());
    let mut line = String::new();
    let mut len = 0;
    for chunk in super::html::chunks(&collapsed) {
        let n = chunk.chars().count();
        if len + n > budget {
            break;
        }
        line.push_str(chunk);
        len += n;
    }
    let line = line.trim_end().to_string();
    if line.is_empty() {
        let cut: String = collapsed.chars().take(budget).collect();
        return format!("{cut}{PLACEHOLDER}");
    }
    format!("{line}{PLACEHOLDER}")
}

/// A date and time as `dateutil.parser.parse` reads the usual spellings: ISO 8601 (`2024-01-24`,
/// `2024-01-24T11:02:11Z`, offsets), `28/02/2021` and `02/28/2021` (month first unless the first
/// number cannot be a month), `2021/03/04`, `20210106`, `Tue, 12 May 2020 20:59:12`, `Jan 5 2021`.
/// The local date and time as written, and the UTC offset in seconds when the text has one.
pub fn parse_datetime_parts(text: &str) -> Option<(NaiveDateTime, Option<i32>)> {
    let s = text.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    // Tokens: numbers, words, and the single characters between them.
    #[derive(Debug, PartialEq)]
    enum Tok<'a> {
        Num(&'a str),
        Word(&'a str),
        Sym(char),
    }
    let mut toks = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_ascii_digit() {
            let mut end = i + 1;
            while let Some(&(j, d)) = chars.peek() {
                if d.is_ascii_digit() {
                    end = j + 1;
                    chars.next();
                } else {
                    break;
                }
            }
            toks.push(Tok::Num(&s[i..end]));
        } else if c.is_alphabetic() {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if d.is_alphabetic() {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            toks.push(Tok::Word(&s[i..end]));
        } else if !c.is_whitespace() {
            toks.push(Tok::Sym(c));
        }
    }

    let mut date_nums: Vec<&str> = Vec::new();
    let mut month_word: Option<u32> = None;
    let mut time: Option<NaiveTime> = None;
    let mut offset: Option<i32> = None;
    let mut pm: Option<bool> = None;
    let mut i = 0;
    while i < toks.len() {
        match toks[i] {
            Tok::Num(h) if matches!(toks.get(i + 1), Some(Tok::Sym(':'))) && time.is_none() => {
                // hh:mm[:ss[.frac]]
                let Some(Tok::Num(m)) = toks.get(i + 2) else {
                    return None;
                };
                let (hh, mm) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
                let mut ss = 0;
                let mut nanos = 0;
                i += 3;
                if let (Some(Tok::Sym(':')), Some(Tok::Num(sec))) = (toks.get(i), toks.get(i + 1)) {
                    ss = sec.parse::<u32>().ok()?;
                    i += 2;
                    if let (Some(Tok::Sym('.' | ',')), Some(Tok::Num(frac))) =
                        (toks.get(i), toks.get(i + 1))
                    {
                        let digits: String = frac.chars().take(9).collect();
                        let scale = 10u32.pow(9 - digits.len() as u32);
                        nanos = digits.parse::<u32>().ok()? * scale;
                        i += 2;
                    }
                }
                time = Some(NaiveTime::from_hms_nano_opt(hh, mm, ss.min(59), nanos)?);
                continue;
            }
            Tok::Sym(sign @ ('+' | '-')) if time.is_some() && offset.is_none() => {
                let Some(Tok::Num(h)) = toks.get(i + 1) else {
                    i += 1;
                    continue;
                };
                let (hh, mm, used) = match (h.len(), toks.get(i + 2), toks.get(i + 3)) {
                    (1 | 2, Some(Tok::Sym(':')), Some(Tok::Num(m))) => {
                        (h.parse::<i32>().ok()?, m.parse::<i32>().ok()?, 4)
                    }
                    (4, _, _) => (h[..2].parse().ok()?, h[2..].parse().ok()?, 2),
                    (1 | 2, _, _) => (h.parse().ok()?, 0, 2),
                    _ => return None,
                };
                let secs = (hh * 60 + mm) * 60;
                offset = Some(if sign == '-' { -secs } else { secs });
                i += used;
                continue;
            }
            Tok::Num(n) => date_nums.push(n),
            Tok::Word(w) => {
                let lw = w.to_ascii_lowercase();
                if let Some(m) = month_number(&lw) {
                    month_word = Some(m);
                } else if lw == "z" || lw == "utc" || lw == "gmt" {
                    offset.get_or_insert(0);
                } else if lw == "t" || weekday(&lw) || lw == "at" || lw == "of" {
                } else if lw == "am" || lw == "pm" {
                    pm = Some(lw == "pm");
                } else {
                    return None;
                }
            }
            Tok::Sym(_) => {}
        }
        i += 1;
    }

    let year_of = |n: &str| -> Option<i32> {
        let y: i32 = n.parse().ok()?;
        Some(if n.len() <= 2 { 2000 + y } else { y })
    };
    let (y, m, d) = match (month_word, date_nums.as_slice()) {
        (None, [n]) if n.len() == 8 => (
            n[..4].parse().ok()?,
            n[4..6].parse().ok()?,
            n[6..].parse().ok()?,
        ),
        (None, [a, b, c]) => {
            if a.len() == 4 {
                (a.parse().ok()?, b.parse().ok()?, c.parse().ok()?)
            } else {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                let year = year_of(c)?;
                if a > 12 { (year, b, a) } else { (year, a, b) }
            }
        }
        (Some(m), [a, b]) => {
            if a.len() == 4 {
                (a.parse().ok()?, m, b.parse().ok()?)
            } else {
                (year_of(b)?, m, a.parse().ok()?)
            }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let mut time = time.unwrap_or(NaiveTime::MIN);
    if let Some(pm) = pm {
        use chrono::Timelike;
        let h = time.hour() % 12 + if pm { 12 } else { 0 };
        time = time.with_hour(h)?;
    }
    Some((date.and_time(time), offset))
}

/// The date a timestamp names, as written (an offset does not move it to another day).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    parse_datetime_parts(text).map(|(dt, _)| dt.date())
}

/// A timestamp in UTC; one without an offset is taken as UTC.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let (naive, offset) = parse_datetime_parts(text)?;
    let utc = naive.checked_sub_signed(TimeDelta::seconds(offset.unwrap_or(0) as i64))?;
    Some(utc.and_utc())
}

fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    if word.len() < 3 {
        return None;
    }
    let full = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    MONTHS
        .iter()
        .zip(full)
        .position(|(short, long)| {
            word == *short || word == long || (word == "sept" && *short == "sep")
        })
        .map(|p| p as u32 + 1)
}

fn weekday(word: &str) -> bool {
    [
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "tues",
        "thur",
        "thurs",
    ]
    .contains(&word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cwes_and_cves() {
        assert_eq!(cwe_number("CWE-79"), Some(79));
        assert_eq!(cwe_number("cwe-0"), None);
        assert_eq!(cwe_number("NVD-CWE-Other"), None);
        assert_eq!(cwe_number("ab€"), None);
        assert_eq!(find_cwe("€cwe-€"), None);
        assert_eq!(find_cve("€cve-1-€"), None);
        assert_eq!(find_cwe("external/cwe/cwe-079"), Some(79));
        assert_eq!(find_cwe("CWE-327: Use of a Broken"), Some(327));
        assert_eq!(find_cwe("no"), None);
        assert_eq!(parse_cwes("89, CWE-79\nx 89"), vec![89, 79]);
        assert_eq!(
            find_cve("BDSA-2020-1001 (cve-2020-11022)").as_deref(),
            Some("CVE-2020-11022")
        );
        assert_eq!(find_cve("CVE-2020"), None);
    }

    #[test]
    fn booleans() {
        assert!(convert_bool("TRUE") && convert_bool("t") && !convert_bool("FALSE"));
        assert!(!convert_bool(""));
        assert_eq!(loose_bool("Yes"), Some(true));
        assert_eq!(loose_bool("maybe"), None);
    }

    #[test]
    fn shortens_like_textwrap() {
        let long = "CVE-2019-11358 - jQuery before 3.4.0, as used in Drupal, Backdrop CMS, and other products, mishandles jQuery.extend(true, {}, ...) because of Object.prototype pollution. If an unsanitized source object contained an enumerable __proto__ property, it could extend the native Object.prototype.";
        assert_eq!(
            shorten(long, 150),
            "CVE-2019-11358 - jQuery before 3.4.0, as used in Drupal, Backdrop CMS, and other products, mishandles jQuery.extend(true, {}, ...) because of [...]"
        );
        assert_eq!(
            shorten(&format!("ab {}", "well-known-thing ".repeat(20)), 60),
            "ab well-known-thing well-known-thing well-known-thing [...]"
        );
        assert_eq!(shorten("  a \n b  ", 150), "a b");
        // Python gives the bare "[...]" here; we keep the start of the word.
        assert_eq!(shorten(&"a".repeat(200), 150).len(), 150);
    }

    #[test]
    fn reads_dates_like_dateutil() {
        let d = |s: &str| parse_date(s).map(|d| d.to_string());
        assert_eq!(d("28/02/2021").as_deref(), Some("2021-02-28"));
        assert_eq!(d("03/04/2021").as_deref(), Some("2021-03-04"));
        assert_eq!(d("2024-01-24T11:02:11Z").as_deref(), Some("2024-01-24"));
        assert_eq!(d("2021-01-06").as_deref(), Some("2021-01-06"));
        assert_eq!(
            d("Tue, 12 May 2020 20:59:12").as_deref(),
            Some("2020-05-12")
        );
        assert_eq!(d("Jan 5 2021").as_deref(), Some("2021-01-05"));
        assert_eq!(d("5 January 2021 10:00").as_deref(), Some("2021-01-05"));
        assert_eq!(d("20210106").as_deref(), Some("2021-01-06"));
        assert_eq!(d("2021/03/04").as_deref(), Some("2021-03-04"));
        assert_eq!(d("03-04-21").as_deref(), Some("2021-03-04"));
        assert_eq!(
            d("2024-01-04T23:02:11-05:00").as_deref(),
            Some("2024-01-04")
        );
        assert_eq!(
            parse_datetime("2024-01-04T23:02:11.5-05:00")
                .unwrap()
                .to_rfc3339(),
            "2024-01-05T04:02:11.500+00:00"
        );
        assert_eq!(d("not a date"), None);
        assert_eq!(d(""), None);
        assert_eq!(d("2021-02-30"), None);
        assert_eq!(d("99:99"), None);
    }
}
