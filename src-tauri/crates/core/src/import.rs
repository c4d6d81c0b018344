//! Reading address books exported from phones and mail programs (vCard and CSV) into contacts,
//! with an account of every entry or number left out and why: an import never loses data
//! silently.

use crate::model::E164;
use crate::phone::{self, Country};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportParse {
    pub contacts: Vec<ImportedContact>,
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportedContact {
    /// 1-based card or CSV row it came from, for reports about it.
    pub entry: usize,
    pub name: String,
    /// Distinct, in file order; never empty.
    pub numbers: Vec<E164>,
}

/// Something the import left out: a whole entry, or one number of an entry (reason
/// `InvalidNumber`), in which case the entry's other numbers may still have been imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// 1-based: the card's position in a vCard file, or the CSV row as a spreadsheet numbers it
    /// (the header is row 1).
    pub entry: usize,
    /// The entry's name, or failing that some of its raw text, for the person to recognise it.
    pub label: String,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum SkipReason {
    NoName,
    NoNumber,
    InvalidNumber { raw: String },
    Malformed { detail: String },
    DuplicateInFile,
}

impl SkipReason {
    pub fn code(&self) -> &'static str {
        match self {
            SkipReason::NoName => "no_name",
            SkipReason::NoNumber => "no_number",
            SkipReason::InvalidNumber { .. } => "invalid_number",
            SkipReason::Malformed { .. } => "malformed",
            SkipReason::DuplicateInFile => "duplicate_in_file",
        }
    }
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NoName => f.write_str("It has no name."),
            SkipReason::NoNumber => f.write_str("It has no phone number."),
            SkipReason::InvalidNumber { raw } => {
                write!(
                    f,
                    "\"{raw}\" is not a valid phone number, so it was left out."
                )
            }
            SkipReason::Malformed { detail } => write!(f, "It could not be read: {detail}."),
            SkipReason::DuplicateInFile => {
                f.write_str("It is a copy of a contact that appears earlier in the file.")
            }
        }
    }
}

/// Turns entries into contacts or skip reasons, the same way for both formats.
struct Collector {
    country: Country,
    out: ImportParse,
    /// Lower-cased name → indices in `out.contacts`, to spot the same contact exported twice.
    by_name: HashMap<String, Vec<usize>>,
}

/// An entry as read from the file, before any judgement.
struct RawEntry {
    entry: usize,
    name: Option<String>,
    numbers: Vec<String>,
    /// Shown when the entry has no name.
    fallback_label: String,
}

impl Collector {
    fn new(country: Country) -> Collector {
        Collector {
            country,
            out: ImportParse::default(),
            by_name: HashMap::new(),
        }
    }

    fn skip(&mut self, entry: usize, label: &str, reason: SkipReason) {
        self.out.skipped.push(Skipped {
            entry,
            label: label.to_owned(),
            reason,
        });
    }

    fn add(&mut self, raw: RawEntry) {
        let name = raw.name.as_deref().map(clean_name).unwrap_or_default();
        let raws: Vec<&str> = raw
            .numbers
            .iter()
            .map(|n| n.trim())
            .filter(|n| !n.is_empty())
            .collect();
        let label = if name.is_empty() {
            raws.first().map_or(raw.fallback_label.as_str(), |n| n)
        } else {
            &name
        };
        if name.is_empty() {
            return self.skip(raw.entry, label, SkipReason::NoName);
        }
        if raws.is_empty() {
            return self.skip(raw.entry, label, SkipReason::NoNumber);
        }

        let mut numbers: Vec<E164> = Vec::new();
        let mut invalid: Vec<&str> = Vec::new();
        for r in raws {
            match phone::parse(r, self.country) {
                // The same number twice on one card (as "mobile" and "preferred") is one number.
                Ok(n) if !numbers.contains(&n) => numbers.push(n),
                Ok(_) => {}
                Err(_) if !invalid.contains(&r) => invalid.push(r),
                Err(_) => {}
            }
        }
        for r in invalid {
            self.skip(
                raw.entry,
                &name,
                SkipReason::InvalidNumber { raw: r.to_owned() },
            );
        }
        if numbers.is_empty() {
            return;
        }

        let key = name.to_lowercase();
        let contacts = &self.out.contacts;
        let duplicate = self.by_name.get(&key).into_iter().flatten().any(|&i| {
            contacts
                .get(i)
                .is_some_and(|earlier| numbers.iter().all(|n| earlier.numbers.contains(n)))
        });
        if duplicate {
            return self.skip(raw.entry, &name, SkipReason::DuplicateInFile);
        }
        self.by_name
            .entry(key)
            .or_default()
            .push(self.out.contacts.len());
        self.out.contacts.push(ImportedContact {
            entry: raw.entry,
            name,
            numbers,
        });
    }
}

fn clean_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters of `text`, so one odd line cannot flood the report.
fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// vCard (2.1, 3.0 and 4.0)

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

// ---------------------------------------------------------------------------------------------
// CSV

/// Reads a spreadsheet export. With a recognisable header (Google, Outlook, most CRMs) the
/// columns are found by name; without one, the first column is the name and every other column
/// holds numbers.
pub fn parse_csv(text: &str, country: Country) -> ImportParse {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut collector = Collector::new(country);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .delimiter(guess_delimiter(text))
        .from_reader(text.as_bytes());

    let mut columns: Option<Columns> = None;
    for (index, record) in reader.records().enumerate() {
        let row = index + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                collector.skip(
                    row,
                    "",
                    SkipReason::Malformed {
                        detail: format!("the row is not valid CSV ({e})"),
                    },
                );
                continue;
            }
        };
        let cells: Vec<&str> = record.iter().collect();
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        if index == 0 {
            if let Some(found) = Columns::detect(&cells) {
                columns = Some(found);
                continue;
            }
        }
        let fallback_label = excerpt(
            &cells
                .iter()
                .filter(|c| !c.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join(", "),
            60,
        );
        let (name, numbers) = match &columns {
            Some(columns) => (columns.name(&cells), columns.numbers(&cells)),
            None => (
                cells.first().map(|s| (*s).to_owned()),
                cells
                    .iter()
                    .skip(1)
                    .flat_map(|c| split_numbers(c))
                    .collect(),
            ),
        };
        collector.add(RawEntry {
            entry: row,
            name,
            numbers,
            fallback_label,
        });
    }
    collector.out
}

/// Spreadsheets in locales that write decimals with a comma export with `;`, and some tools use
/// tabs; the header line tells which.
fn guess_delimiter(text: &str) -> u8 {
    let first = text.lines().next().unwrap_or("");
    let mut quoted = false;
    let (mut comma, mut semi, mut tab) = (0, 0, 0);
    for c in first.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => comma += 1,
            ';' if !quoted => semi += 1,
            '\t' if !quoted => tab += 1,
            _ => {}
        }
    }
    if tab > comma && tab >= semi {
        b'\t'
    } else if semi > comma {
        b';'
    } else {
        b','
    }
}

/// Several numbers in one cell: Google writes `a ::: b`, people write `a; b` or `a, b`.
fn split_numbers(cell: &str) -> Vec<String> {
    cell.split(":::")
        .flat_map(|part| part.split([';', ',', '\n']))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where the name and numbers are in a CSV with a header.
struct Columns {
    full: Vec<usize>,
    first: Option<usize>,
    middle: Option<usize>,
    last: Option<usize>,
    company: Vec<usize>,
    /// Each phone column, with the column that labels it ("Phone 1 - Type") if any.
    phones: Vec<(usize, Option<usize>)>,
}

const FULL_NAME: &[&str] = &[
    "name",
    "full name",
    "fullname",
    "display name",
    "displayname",
    "contact name",
    "contact",
];
const FIRST_NAME: &[&str] = &[
    "first name",
    "firstname",
    "first",
    "given name",
    "givenname",
    "forename",
];
const MIDDLE_NAME: &[&str] = &["middle name", "middlename", "additional name"];
const LAST_NAME: &[&str] = &[
    "last name",
    "lastname",
    "last",
    "family name",
    "familyname",
    "surname",
];
const COMPANY: &[&str] = &[
    "company",
    "company name",
    "organization",
    "organisation",
    "organization name",
    "organisation name",
    "organization 1 name",
    "business name",
];
const PHONE_WORDS: &[&str] = &[
    "phone",
    "phones",
    "telephone",
    "tel",
    "mobile",
    "cell",
    "cellphone",
    "cellular",
    "mobilephone",
    "msisdn",
];
/// Columns about a phone that are not a number to text: its label, or a fax or pager.
const NOT_A_TEXTABLE_NUMBER: &[&str] = &["type", "label", "fax", "pager", "assistant", "ext"];

impl Columns {
    fn detect(header: &[&str]) -> Option<Columns> {
        let names: Vec<String> = header.iter().map(|h| normalise_header(h)).collect();
        let find = |set: &[&str]| names.iter().position(|n| set.contains(&n.as_str()));
        let all = |set: &[&str]| -> Vec<usize> {
            (0..names.len())
                .filter(|&i| set.contains(&names[i].as_str()))
                .collect()
        };
        let phones: Vec<(usize, Option<usize>)> = (0..names.len())
            .filter(|&i| is_phone_column(&names[i]))
            .map(|i| (i, label_column(&names, i)))
            .collect();
        let columns = Columns {
            full: all(FULL_NAME),
            first: find(FIRST_NAME),
            middle: find(MIDDLE_NAME),
            last: find(LAST_NAME),
            company: all(COMPANY),
            phones,
        };
        let recognised = !columns.full.is_empty()
            || columns.first.is_some()
            || columns.last.is_some()
            || !columns.phones.is_empty();
        recognised.then_some(columns)
    }

    fn name(&self, cells: &[&str]) -> Option<String> {
        let cell = |i: usize| cells.get(i).copied().unwrap_or("").trim();
        let full = self.full.iter().map(|&i| cell(i)).find(|s| !s.is_empty());
        let parts = [self.first, self.middle, self.last]
            .into_iter()
            .flatten()
            .map(cell)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let company = self
            .company
            .iter()
            .map(|&i| cell(i))
            .find(|s| !s.is_empty());
        full.map(str::to_owned)
            .or((!parts.is_empty()).then_some(parts))
            .or(company.map(str::to_owned))
    }

    fn numbers(&self, cells: &[&str]) -> Vec<String> {
        let cell = |i: usize| cells.get(i).copied().unwrap_or("");
        self.phones
            .iter()
            .filter(|(_, label)| {
                // Google puts fax numbers in "Phone 2 - Value" with "Work Fax" beside it.
                let label = label.map(|l| cell(l).to_lowercase()).unwrap_or_default();
                !(label.contains("fax") || label.contains("pager"))
            })
            .flat_map(|&(i, _)| split_numbers(cell(i)))
            .collect()
    }
}

/// `"Phone 1 - Value"` → `"phone 1 value"`: case, punctuation and spacing vary by exporter.
fn normalise_header(header: &str) -> String {
    header
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_phone_column(name: &str) -> bool {
    let words: Vec<&str> = name.split(' ').collect();
    let about_a_phone =
        words.iter().any(|w| PHONE_WORDS.contains(w)) || matches!(name, "number" | "numbers");
    about_a_phone && !words.iter().any(|w| NOT_A_TEXTABLE_NUMBER.contains(w))
}

/// For `phone 2 value`, the `phone 2 type` or `phone 2 label` column.
fn label_column(names: &[String], phone: usize) -> Option<usize> {
    let stem = names[phone].strip_suffix(" value")?;
    let wanted = [format!("{stem} type"), format!("{stem} label")];
    names.iter().position(|n| wanted.contains(n))
}

#[cfg(test)]
mod tests;
