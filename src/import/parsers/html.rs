//! HTML fragments as text the way DefectDojo shows them: its parsers pass scanner HTML through
//! the `html2text` Python package (Markdown-ish output, paragraphs wrapped at 78 columns). This
//! is the subset scanners write (`p`, `div`, `br`, lists, links, emphasis, code, headings,
//! `pre`, `blockquote`, entities); scripts and styles are dropped. The text is only read, never
//! rendered, so no markup can execute. Also `textwrap.wrap`, which that wrapping uses.

/// `html2text.html2text(html)`.
pub fn html2text(html: &str) -> String {
    let mut c = Converter::default();
    c.feed(html);
    c.pbr();
    c.o("", Force::End);
    let text = c.out.replace(NBSP, " ");
    optwrap(&text)
}

/// [`html2text`], or `None` when nothing but whitespace is left.
pub fn html2text_opt(html: Option<&str>) -> Option<String> {
    html.map(html2text).filter(|t| !t.trim().is_empty())
}

const NBSP: char = '\u{E000}';
const WIDTH: usize = 78;

#[derive(PartialEq)]
enum Force {
    No,
    Yes,
    End,
}

#[derive(Default)]
struct Converter {
    out: String,
    /// Newlines owed before the next output (2 = paragraph, 1 = line).
    p_p: usize,
    space: bool,
    start: bool,
    started: bool,
    last_was_nl: bool,
    br_toggle: &'static str,
    quiet: usize,
    pre: bool,
    startpre: bool,
    code: bool,
    blockquote: usize,
    lists: Vec<(bool, u32)>, // (ordered, counter)
    links: Vec<Option<String>>,
    maybe_auto_link: Option<String>,
}

impl Converter {
    fn feed(&mut self, html: &str) {
        self.start = true;
        let mut rest = html;
        let mut text = String::new();
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix('<') {
                // A tag, a comment, or a stray '<'.
                if let Some(body) = after.strip_prefix("!--") {
                    self.flush_text(&mut text);
                    rest = body.find("-->").map_or("", |e| &body[e + 3..]);
                    continue;
                }
                let is_tag = after
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
                match (is_tag, after.find('>')) {
                    (true, Some(end)) => {
                        self.flush_text(&mut text);
                        self.tag(&after[..end]);
                        rest = &after[end + 1..];
                        if self.quiet > 0 {
                            // Skip raw text of script/style up to its end tag.
                            let lower = rest.to_ascii_lowercase();
                            let stop = ["</script", "</style", "</head"]
                                .iter()
                                .filter_map(|t| lower.find(t))
                                .min()
                                .unwrap_or(rest.len());
                            rest = &rest[stop..];
                        }
                    }
                    _ => {
                        text.push('<');
                        rest = after;
                    }
                }
            } else if let Some(after) = rest.strip_prefix('&') {
                let end = after
                    .char_indices()
                    .take(32)
                    .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '#'))
                    .map(|(i, _)| i);
                match end {
                    Some(e) if e > 0 && after[e..].starts_with(';') => {
                        self.flush_text(&mut text);
                        let ent = entity(&after[..e]);
                        self.data(&ent, true);
                        rest = &after[e + 1..];
                    }
                    _ => {
                        text.push('&');
                        rest = after;
                    }
                }
            } else {
                let end = rest.find(['<', '&']).unwrap_or(rest.len());
                text.push_str(&rest[..end]);
                rest = &rest[end..];
            }
        }
        self.flush_text(&mut text);
    }

    fn flush_text(&mut self, text: &mut String) {
        if !text.is_empty() {
            let t = std::mem::take(text);
            self.data(&t, false);
        }
    }

    fn tag(&mut self, raw: &str) {
        let (end, raw) = match raw.strip_prefix('/') {
            Some(r) => (true, r),
            None => (false, raw),
        };
        let raw = raw.trim_end_matches('/');
        let name_end = raw
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(raw.len());
        let name = raw[..name_end].to_ascii_lowercase();
        let attrs = &raw[name_end..];
        let start = !end;
        match name.as_str() {
            "head" | "style" | "script" => {
                if start {
                    self.quiet += 1;
                } else {
                    self.quiet = self.quiet.saturating_sub(1);
                }
            }
            "p" | "div" => self.p(),
            "br" if start => {
                if self.blockquote > 0 {
                    self.o("  \n> ", Force::No);
                } else {
                    self.o("  \n", Force::No);
                }
            }
            "hr" if start => {
                self.p();
                self.o("* * *", Force::No);
                self.p();
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.p();
                if start {
                    let n = name[1..].parse::<usize>().unwrap_or(1);
                    self.o(&format!("{} ", "#".repeat(n)), Force::No);
                }
            }
            "blockquote" => {
                if start {
                    self.p();
                    self.o("> ", Force::Yes);
                    self.start = true;
                    self.blockquote += 1;
                } else {
                    self.blockquote = self.blockquote.saturating_sub(1);
                    self.p();
                }
            }
            "em" | "i" | "u" => self.o("_", Force::No),
            "strong" | "b" => self.o("**", Force::No),
            "code" | "tt" | "kbd" if !self.pre => {
                self.o("`", Force::No);
                self.code = start;
            }
            "a" => {
                if start {
                    let href = attr(attrs, "href");
                    match href {
                        Some(h) if !h.starts_with("javascript:") => {
                            self.maybe_auto_link = Some(h.clone());
                            self.links.push(Some(h));
                        }
                        _ => self.links.push(None),
                    }
                } else if let Some(Some(href)) = self.links.pop() {
                    if self.maybe_auto_link.take().is_some() {
                        // An empty link: nothing shown.
                    } else {
                        self.o(&format!("]({href})"), Force::No);
                    }
                }
            }
            "img" if start => {
                if let Some(src) = attr(attrs, "src") {
                    let alt = attr(attrs, "alt").unwrap_or_default();
                    self.o(&format!("![{alt}]({src})"), Force::No);
                }
            }
            "ul" | "ol" => {
                if start {
                    if self.lists.is_empty() {
                        self.p();
                    }
                    self.lists.push((name == "ol", 0));
                } else {
                    self.lists.pop();
                    if self.lists.is_empty() {
                        self.o("\n", Force::No);
                    }
                }
            }
            "li" => {
                self.pbr();
                if start {
                    let mut parent_ol = false;
                    let indent: String = self
                        .lists
                        .iter()
                        .map(|(ol, _)| {
                            let s = if parent_ol && !*ol { "   " } else { "  " };
                            parent_ol = *ol;
                            s
                        })
                        .collect();
                    self.o(&indent, Force::No);
                    let mark = match self.lists.last_mut() {
                        Some((true, n)) => {
                            *n += 1;
                            format!("{n}. ")
                        }
                        _ => "* ".to_string(),
                    };
                    self.o(&mark, Force::No);
                    self.start = true;
                }
            }
            "tr" if !start => self.pbr(),
            "td" | "th" if !start => self.o(" ", Force::No),
            "pre" => {
                if start {
                    self.startpre = true;
                    self.pre = true;
                } else {
                    self.pre = false;
                }
                self.p();
            }
            _ => {}
        }
    }

    fn p(&mut self) {
        self.p_p = 2;
    }

    fn pbr(&mut self) {
        if self.p_p == 0 {
            self.p_p = 1;
        }
    }

    fn data(&mut self, data: &str, entity: bool) {
        if data.is_empty() || self.quiet > 0 {
            return;
        }
        if let Some(href) = self.maybe_auto_link.take() {
            if href == data && (href.starts_with("http://") || href.starts_with("https://")) {
                self.o(&format!("<{data}>"), Force::No);
                // The closing tag must not add "](…)".
                if let Some(last) = self.links.last_mut() {
                    *last = None;
                }
                return;
            }
            self.o("[", Force::No);
        }
        let data = if !self.code && !self.pre && !entity {
            escape_md_section(data)
        } else {
            data.to_string()
        };
        self.pure(&data);
    }

    /// Text: whitespace runs become one space (the no-break space excepted).
    fn pure(&mut self, data: &str) {
        if self.pre {
            self.o(data, Force::No);
            return;
        }
        let mut collapsed = String::with_capacity(data.len());
        let mut in_ws = false;
        for c in data.chars() {
            if c.is_whitespace() {
                if !in_ws {
                    collapsed.push(' ');
                }
                in_ws = true;
            } else {
                collapsed.push(if c == '\u{a0}' { NBSP } else { c });
                in_ws = false;
            }
        }
        let collapsed = match collapsed.strip_prefix(' ') {
            Some(rest) => {
                self.space = true;
                rest.to_string()
            }
            None => collapsed,
        };
        self.o(&collapsed, Force::No);
    }

    fn o(&mut self, data: &str, force: Force) {
        if self.quiet > 0 {
            return;
        }
        if data.is_empty() && force == Force::No {
            return;
        }
        let mut data = data.to_string();
        if self.startpre && !data.starts_with('\n') {
            data.insert(0, '\n');
        }
        let mut bq = ">".repeat(self.blockquote);
        if !(force == Force::Yes && data.starts_with('>')) && self.blockquote > 0 {
            bq.push(' ');
        }
        if self.pre {
            if self.lists.is_empty() {
                bq.push_str("    ");
            }
            bq.push_str(&"    ".repeat(self.lists.len()));
            data = data.replace('\n', &format!("\n{bq}"));
        }
        if self.startpre {
            self.startpre = false;
        }
        if self.start {
            self.space = false;
            self.p_p = 0;
            self.start = false;
        }
        if force == Force::End {
            self.p_p = 0;
            self.out("\n");
            self.space = false;
        }
        if self.p_p > 0 {
            let piece = format!("{}\n{bq}", self.br_toggle).repeat(self.p_p);
            self.out(&piece);
            self.space = false;
            self.br_toggle = "";
        }
        if self.space {
            if !self.last_was_nl {
                self.out(" ");
            }
            self.space = false;
        }
        self.p_p = 0;
        self.out(&data);
        self.started = true;
    }

    fn out(&mut self, s: &str) {
        if !s.is_empty() {
            self.out.push_str(s);
            self.last_was_nl = s.ends_with('\n');
        }
    }
}

/// An attribute's value from a tag's attribute text (quoted or bare).
fn attr(attrs: &str, name: &str) -> Option<String> {
    let lower = attrs.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let rest = attrs[at + name.len()..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let rest = rest[1..].trim_start();
        let value = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => rest[1..].split(q).next().unwrap_or(""),
            _ => rest.split(char::is_whitespace).next().unwrap_or(""),
        };
        return Some(decode_entities(value));
    }
    None
}

fn decode_entities(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(';').filter(|e| *e > 0 && *e <= 32) {
            Some(e) => {
                out.push_str(&entity(&after[..e]));
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An entity's text, as html2text writes it (`&rsquo;` → `'`, `&nbsp;` → a space); an unknown
/// one stays as written.
fn entity(name: &str) -> String {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => num.parse::<u32>().ok(),
        };
        let c = code
            .and_then(char::from_u32)
            .filter(|c| *c != '\0')
            .unwrap_or('\u{FFFD}');
        return match c {
            '\u{a0}' => NBSP.to_string(),
            '\u{2018}' | '\u{2019}' => "'".into(),
            '\u{201c}' | '\u{201d}' => "\"".into(),
            c => c.to_string(),
        };
    }
    match name {
        "amp" => "&",
        "lt" => "<",
        "gt" => ">",
        "quot" => "\"",
        "apos" => "'",
        "nbsp" => return NBSP.to_string(),
        "rsquo" | "lsquo" => "'",
        "rdquo" | "ldquo" => "\"",
        "copy" => "(C)",
        "mdash" => "--",
        "ndash" => "-",
        "rarr" => "->",
        "larr" => "<-",
        "middot" => "*",
        "hellip" => "…",
        "reg" => "®",
        "trade" => "™",
        "laquo" => "«",
        "raquo" => "»",
        "bull" => "•",
        "deg" => "°",
        "times" => "×",
        _ => return format!("&{name};"),
    }
    .to_string()
}

/// html2text's Markdown escaping of text (not in code): backslashes before Markdown characters,
/// and a `.`, `+` or `-` that would start a list at the start of a line.
fn escape_md_section(text: &str) -> String {
    const SLASH_CHARS: &str = "\\`*_{}[]()#+-.!";
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut line_start = true;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if line_start {
            // ^(\s*\d+)(\.)(?=\s) , ^(\s*)(\+)(?=\s) , ^(\s*)(-)(?=\s|-)
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() && chars[j] != '\n' {
                j += 1;
            }
            let mut k = j;
            while k < chars.len() && chars[k].is_ascii_digit() {
                k += 1;
            }
            let next_ws = |n: usize| chars.get(n).is_some_and(|c| c.is_whitespace());
            let escape_at = if k > j && chars.get(k) == Some(&'.') && next_ws(k + 1) {
                Some(k)
            } else if (chars.get(j) == Some(&'+') && next_ws(j + 1))
                || (chars.get(j) == Some(&'-')
                    && (next_ws(j + 1) || chars.get(j + 1) == Some(&'-')))
            {
                Some(j)
            } else {
                None
            };
            if let Some(at) = escape_at {
                for ch in &chars[i..at] {
                    out.push(*ch);
                }
                out.push('\\');
                out.push(chars[at]);
                i = at + 1;
                line_start = false;
                continue;
            }
            line_start = false;
        }
        if c == '\\' && chars.get(i + 1).is_some_and(|n| SLASH_CHARS.contains(*n)) {
            out.push('\\');
        }
        out.push(c);
        if c == '\n' {
            line_start = true;
        }
        i += 1;
    }
    out
}

/// html2text's `optwrap`: paragraphs wrapped at 78 columns, list items and code kept.
fn optwrap(text: &str) -> String {
    let mut result = String::new();
    let mut newlines = 0;
    for para in text.split('\n') {
        if !para.is_empty() {
            if !skipwrap(para) {
                let indent = if para.starts_with("  *") {
                    "    "
                } else if para.starts_with("> ") {
                    "> "
                } else {
                    ""
                };
                result.push_str(&wrap(para, WIDTH, indent).join("\n"));
                if para.ends_with("  ") {
                    result.push_str("  \n");
                    newlines = 1;
                } else if !indent.is_empty() {
                    result.push('\n');
                    newlines = 1;
                } else {
                    result.push_str("\n\n");
                    newlines = 2;
                }
            } else if !is_space_plus(para) {
                result.push_str(para);
                result.push('\n');
                newlines = 1;
            }
        } else if newlines < 2 {
            result.push('\n');
            newlines += 1;
        }
    }
    result
}

/// `RE_SPACE.match`: a whitespace character then `+`.
fn is_space_plus(para: &str) -> bool {
    let mut c = para.chars();
    c.next().is_some_and(char::is_whitespace) && c.next() == Some('+')
}

fn skipwrap(para: &str) -> bool {
    if para.starts_with("    ") || para.starts_with('\t') {
        return true;
    }
    let stripped = para.trim_start();
    if stripped.starts_with("--") && stripped.len() > 2 && !stripped[2..].starts_with('-') {
        return false;
    }
    if (stripped.starts_with('-') || stripped.starts_with('*')) && !stripped.starts_with("**") {
        return true;
    }
    if para.contains(" | ") {
        return true;
    }
    let digits = stripped.chars().take_while(char::is_ascii_digit).count();
    let ordered = digits > 0
        && stripped[digits..].starts_with('.')
        && stripped[digits + 1..]
            .chars()
            .next()
            .is_some_and(char::is_whitespace);
    let unordered = stripped.starts_with(['-', '*', '+'])
        && stripped[1..]
            .chars()
            .next()
            .is_some_and(char::is_whitespace);
    ordered || unordered
}

fn is_letter(c: char) -> bool {
    (c.is_alphanumeric() && !c.is_numeric()) || c == '_'
}

/// Splits text into textwrap's chunks: whitespace runs, and words split after a hyphen between
/// letters (`well-known` → `well-`, `known`).
pub(crate) fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut k = 0;
    while k < chars.len() {
        let (pos, c) = chars[k];
        let ws = c.is_whitespace();
        if k > 0 && ws != chars[k - 1].1.is_whitespace() {
            out.push(&text[start..pos]);
            start = pos;
        }
        if !ws && c == '-' {
            let letter =
                |i: isize| i >= 0 && (i as usize) < chars.len() && is_letter(chars[i as usize].1);
            let at = |i: isize| {
                if i >= 0 && (i as usize) < chars.len() {
                    Some(chars[i as usize].1)
                } else {
                    None
                }
            };
            let ki = k as isize;
            let before = (letter(ki - 1) && letter(ki - 2))
                || (letter(ki - 1) && at(ki - 2) == Some('-') && letter(ki - 3));
            let after =
                letter(ki + 1) && (letter(ki + 2) || (at(ki + 2) == Some('-') && letter(ki + 3)));
            if before && after {
                let end = pos + 1;
                out.push(&text[start..end]);
                start = end;
            }
        }
        k += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Python's `textwrap.wrap(text, width, break_long_words=False, subsequent_indent=indent)`.
pub fn wrap(text: &str, width: usize, subsequent_indent: &str) -> Vec<String> {
    let expanded: String = text
        .replace('\t', "        ")
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    let mut chunks: Vec<&str> = chunks(&expanded);
    chunks.reverse();
    let mut lines: Vec<String> = Vec::new();
    while !chunks.is_empty() {
        let indent = if lines.is_empty() {
            ""
        } else {
            subsequent_indent
        };
        let room = width.saturating_sub(indent.chars().count());
        if !lines.is_empty() && chunks.last().is_some_and(|c| c.trim().is_empty()) {
            chunks.pop();
        }
        let mut line: Vec<&str> = Vec::new();
        let mut len = 0;
        while let Some(chunk) = chunks.last() {
            let l = chunk.chars().count();
            if len + l <= room {
                line.push(chunk);
                len += l;
                chunks.pop();
            } else {
                break;
            }
        }
        if let Some(chunk) = chunks.last()
            && chunk.chars().count() > room
            && line.is_empty()
        {
            line.push(chunk);
            chunks.pop();
        }
        if line.last().is_some_and(|c| c.trim().is_empty()) {
            line.pop();
        }
        if !line.is_empty() {
            lines.push(format!("{indent}{}", line.concat()));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values from the `html2text` Python package (2025.4.15).
    #[test]
    fn converts_like_html2text() {
        for (html, text) in [
            (
                "<p>X-Frame-Options header is not included in the HTTP response to protect against 'ClickJacking' attacks.</p>",
                "X-Frame-Options header is not included in the HTTP response to protect against\n'ClickJacking' attacks.\n\n",
            ),
            (
                "A cookie has been set without the secure flag, which means that the cookie can be accessed via unencrypted connections.",
                "A cookie has been set without the secure flag, which means that the cookie can\nbe accessed via unencrypted connections.\n\n",
            ),
            ("<p>a</p><p>b</p>", "a\n\nb\n\n"),
            (
                "<p>https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options</p><p>http://x.org/a</p>",
                "https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/X-Frame-Options\n\nhttp://x.org/a\n\n",
            ),
            ("line1<br>line2<br/>line3", "line1  \nline2  \nline3\n\n"),
            (
                "<ul><li>one</li><li>two two</li></ul><p>after</p>",
                "  * one\n  * two two\n\nafter\n\n",
            ),
            (
                "<p>Use <a href='http://a.b/c'>this link</a> and <b>bold</b> <i>it</i> <code>x=1</code>.</p>",
                "Use [this link](http://a.b/c) and **bold** _it_ `x=1`.\n\n",
            ),
            (
                "<a href='http://a.b/c'>http://a.b/c</a>",
                "<http://a.b/c>\n\n",
            ),
            (
                "- dash start\n+ plus\n1. one",
                "\\- dash start \\+ plus 1\\. one\n\n",
            ),
            (
                "back\\slash \\* star *x* _y_",
                "back\\slash \\\\* star *x* _y_\n\n",
            ),
            (
                "<h2>Head</h2>text &amp; &lt;tag&gt; &nbsp;nb",
                "## Head\n\ntext & <tag>  nb\n\n",
            ),
            ("", "\n\n"),
            ("   ", "\n\n"),
            ("TBA", "TBA\n\n"),
            (
                "<p>The X-XSS-Protection  header   has\n\nbeen  set</p>",
                "The X-XSS-Protection header has been set\n\n",
            ),
            (
                "<ol><li>first</li><li>second</li></ol>",
                "  1. first\n  2. second\n\n",
            ),
            (
                "http://projects.webappsec.org/Fingerprinting\n",
                "http://projects.webappsec.org/Fingerprinting\n\n",
            ),
            ("<script>alert(1)</script>x<style>p{}</style>y", "xy\n\n"),
            ("a&#39;b &#x41; &unknown; c", "a'b A &unknown; c\n\n"),
            ("<p>aaa</p>\n\n<p>bbb</p>", "aaa\n\nbbb\n\n"),
            ("<div>one</div><div>two</div>", "one\n\ntwo\n\n"),
            ("<blockquote>quote me</blockquote>", "> quote me\n\n"),
        ] {
            assert_eq!(html2text(html), text, "{html:?}");
        }
        assert_eq!(html2text_opt(Some("<p> </p>")), None);
        assert_eq!(html2text_opt(None), None);
    }

    #[test]
    fn wraps_like_textwrap() {
        assert_eq!(
            wrap("aaaa bbbb-cccc dddd", 10, ""),
            ["aaaa bbbb-", "cccc dddd"]
        );
        assert_eq!(wrap(&"x".repeat(20), 10, "  "), ["x".repeat(20)]);
        assert_eq!(
            wrap("a b c d e f", 3, "> "),
            ["a b", "> c", "> d", "> e", "> f"]
        );
    }

    #[test]
    fn survives_broken_markup() {
        for s in [
            "<",
            "<a",
            "&",
            "&#xFFFFFFFF;",
            "<a href=>x",
            "</li></ul></ol>",
            "<pre>",
        ] {
            let _ = html2text(s);
        }
    }
}
