//! Reading vCard files (2.1, 3.0 and 4.0) as phones and mail programs export them: folded lines,
//! quoted-printable, escapes and grouped properties.

use crate::phone::Country;

use super::collect::{clean_name, excerpt, Collector, ImportParse, RawEntry, SkipReason};

/// Reads every card in a `.vcf` file. Numbers without a country code are read as `country`'s.
pub fn parse_vcard(text: &str, country: Country) -> ImportParse {
    let mut collector = Collector::new(country);
    let mut card: Option<Card> = None;
    let mut cards = 0;

    for line in unfold(text) {
        let Some(prop) = Property::parse(&line) else {
            // Exporters leave the odd stray line; it carries nothing we could import.
            continue;
        };
        match prop.name.as_str() {
            "BEGIN" if prop.raw_value.trim().eq_ignore_ascii_case("VCARD") => {
                if let Some(open) = card.take() {
                    open.malformed(&mut collector, "it has no END:VCARD line");
                }
                cards += 1;
                card = Some(Card::new(cards));
            }
            "END" if prop.raw_value.trim().eq_ignore_ascii_case("VCARD") => {
                if let Some(done) = card.take() {
                    collector.add(done.into_raw());
                }
            }
            _ => {
                if let Some(open) = card.as_mut() {
                    open.read(&prop);
                }
            }
        }
    }
    if let Some(open) = card.take() {
        open.malformed(&mut collector, "the file ends in the middle of it");
    }
    if cards == 0 {
        if let Some(line) = text.lines().find(|l| !l.trim().is_empty()) {
            collector.skip(
                1,
                &excerpt(line, 60),
                SkipReason::Malformed {
                    detail: "this is not a vCard (.vcf) file".to_owned(),
                },
            );
        }
    }
    collector.out
}

/// What one card says so far.
struct Card {
    entry: usize,
    formatted_name: Option<String>,
    structured_name: Option<String>,
    organisation: Option<String>,
    numbers: Vec<String>,
    email: Option<String>,
}

impl Card {
    fn new(entry: usize) -> Card {
        Card {
            entry,
            formatted_name: None,
            structured_name: None,
            organisation: None,
            numbers: Vec::new(),
            email: None,
        }
    }

    fn read(&mut self, prop: &Property) {
        if !matches!(prop.name.as_str(), "FN" | "N" | "ORG" | "TEL" | "EMAIL") {
            // Photos and notes can be large; decoding them would be wasted work.
            return;
        }
        let value = prop.value();
        match prop.name.as_str() {
            "FN" => {
                self.formatted_name
                    .get_or_insert_with(|| unescape(&value).replace('\n', " "));
            }
            "N" => {
                // Family; Given; Additional; Prefix; Suffix → "Prefix Given Additional Family
                // Suffix", the order people say names in.
                let parts: Vec<String> = split_unescaped(&value, ';')
                    .iter()
                    .map(|p| unescape(p).replace(',', " "))
                    .collect();
                let part = |i: usize| parts.get(i).map_or("", |s| s.trim());
                let spoken = [part(3), part(1), part(2), part(0), part(4)]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                self.structured_name.get_or_insert(spoken);
            }
            "ORG" => {
                let first = split_unescaped(&value, ';')
                    .first()
                    .map(|s| unescape(s))
                    .unwrap_or_default();
                self.organisation.get_or_insert(first);
            }
            "TEL" => self.numbers.push(value.trim().to_owned()),
            "EMAIL" => {
                self.email.get_or_insert_with(|| value.trim().to_owned());
            }
            _ => {}
        }
    }

    /// Business cards often carry only a company, so it stands in for a missing person's name.
    fn name(&self) -> Option<String> {
        [
            &self.formatted_name,
            &self.structured_name,
            &self.organisation,
        ]
        .into_iter()
        .flatten()
        .map(|n| clean_name(n))
        .find(|n| !n.is_empty())
    }

    fn into_raw(self) -> RawEntry {
        RawEntry {
            entry: self.entry,
            name: self.name(),
            fallback_label: self.email.unwrap_or_default(),
            numbers: self.numbers,
        }
    }

    fn malformed(self, collector: &mut Collector, detail: &str) {
        let label = self
            .name()
            .or_else(|| self.numbers.first().cloned())
            .unwrap_or_default();
        collector.skip(
            self.entry,
            &label,
            SkipReason::Malformed {
                detail: detail.to_owned(),
            },
        );
    }
}

/// Joins folded lines back together: a line starting with a space or tab continues the previous
/// one (RFC 6350 §3.2), and in vCard 2.1 a quoted-printable value ending in `=` continues on the
/// next line.
fn unfold(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(last) = lines.last_mut() {
            if raw.starts_with([' ', '\t']) {
                last.push_str(&raw[1..]);
                continue;
            }
            // A broken soft break must not swallow the card's END.
            let card_boundary = raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("END:"))
                || raw
                    .get(..6)
                    .is_some_and(|p| p.eq_ignore_ascii_case("BEGIN:"));
            if last.ends_with('=') && is_quoted_printable(last) && !card_boundary {
                last.pop();
                last.push_str(raw);
                continue;
            }
        }
        lines.push(raw.to_owned());
    }
    lines
}

fn is_quoted_printable(line: &str) -> bool {
    let head = line.split(':').next().unwrap_or("");
    head.to_ascii_uppercase().contains("QUOTED-PRINTABLE")
}

/// One content line: `[group.]NAME[;param…]:value`.
struct Property<'a> {
    /// Upper case, without the group (`item1.TEL` → `TEL`).
    name: String,
    quoted_printable: bool,
    latin1: bool,
    raw_value: &'a str,
}

impl<'a> Property<'a> {
    fn parse(line: &'a str) -> Option<Property<'a>> {
        let colon = find_outside_quotes(line, ':')?;
        let (head, raw_value) = (&line[..colon], &line[colon + 1..]);
        let mut parts = split_outside_quotes(head, ';').into_iter();
        let full_name = parts.next()?.trim();
        let name = full_name
            .rsplit('.')
            .next()
            .unwrap_or(full_name)
            .to_ascii_uppercase();
        if name.is_empty() {
            return None;
        }
        let mut quoted_printable = false;
        let mut latin1 = false;
        for param in parts {
            let param = param.trim().to_ascii_uppercase();
            // vCard 2.1 allows the bare value (`;QUOTED-PRINTABLE`) as well as `ENCODING=…`.
            let value = param.split_once('=').map_or(param.as_str(), |(_, v)| v);
            let value = value.trim_matches('"');
            if value == "QUOTED-PRINTABLE" {
                quoted_printable = true;
            }
            if param.starts_with("CHARSET=") && (value.contains("8859-1") || value == "LATIN1") {
                latin1 = true;
            }
        }
        Some(Property {
            name,
            quoted_printable,
            latin1,
            raw_value,
        })
    }

    /// The value with any transfer encoding undone; vCard text escapes are left to the caller,
    /// since they depend on the property.
    fn value(&self) -> String {
        if !self.quoted_printable {
            return self.raw_value.to_owned();
        }
        let bytes = decode_quoted_printable(self.raw_value);
        // Latin-1 bytes are the first 256 code points; it is also the likeliest charset of old
        // exports whose bytes are not UTF-8.
        if self.latin1 {
            return bytes.into_iter().map(char::from).collect();
        }
        match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => e.into_bytes().into_iter().map(char::from).collect(),
        }
    }
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'=' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    out
}

fn find_outside_quotes(text: &str, needle: char) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            c if c == needle && !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

fn split_outside_quotes(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(i) = find_outside_quotes(rest, sep) {
        parts.push(&rest[..i]);
        rest = &rest[i + sep.len_utf8()..];
    }
    parts.push(rest);
    parts
}

/// Splits on `sep` where it is not escaped with a backslash, keeping escapes for `unescape`.
fn split_unescaped(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(&text[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}
