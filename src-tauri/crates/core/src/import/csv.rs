//! Reading CSV address books (Google, Outlook, CRMs, or a bare spreadsheet): the delimiter
//! guessed, the name and phone columns found by their headers.

use crate::phone::Country;

use super::collect::{excerpt, Collector, ImportParse, RawEntry, SkipReason};

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
pub(super) struct Columns {
    full: Vec<usize>,
    first: Option<usize>,
    middle: Option<usize>,
    last: Option<usize>,
    company: Vec<usize>,
    /// Each phone column, with the column that labels it ("Phone 1 - Type") if any.
    pub(super) phones: Vec<(usize, Option<usize>)>,
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
    pub(super) fn detect(header: &[&str]) -> Option<Columns> {
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
