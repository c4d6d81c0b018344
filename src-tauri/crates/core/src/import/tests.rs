//! Imports of files as real exporters write them.

use super::csv::Columns;
use super::*;
use crate::model::E164;
use crate::phone::Country;

fn country(code: &str) -> Country {
    Country::parse(code).unwrap()
}

/// `contacts` is (name, numbers in E.164); `skipped` is (entry, label, reason).
fn check(got: ImportParse, contacts: &[(&str, &[&str])], skipped: &[(usize, &str, SkipReason)]) {
    let got_contacts: Vec<(&str, Vec<&str>)> = got
        .contacts
        .iter()
        .map(|c| {
            (
                c.name.as_str(),
                c.numbers.iter().map(E164::as_str).collect(),
            )
        })
        .collect();
    let want_contacts: Vec<(&str, Vec<&str>)> = contacts
        .iter()
        .map(|(n, nums)| (*n, nums.to_vec()))
        .collect();
    assert_eq!(got_contacts, want_contacts, "contacts");
    let got_skipped: Vec<(usize, &str, &SkipReason)> = got
        .skipped
        .iter()
        .map(|s| (s.entry, s.label.as_str(), &s.reason))
        .collect();
    let want_skipped: Vec<(usize, &str, &SkipReason)> =
        skipped.iter().map(|(e, l, r)| (*e, *l, r)).collect();
    assert_eq!(got_skipped, want_skipped, "skipped");
}

fn invalid(raw: &str) -> SkipReason {
    SkipReason::InvalidNumber {
        raw: raw.to_owned(),
    }
}

fn malformed(detail: &str) -> SkipReason {
    SkipReason::Malformed {
        detail: detail.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------
// vCard

const IPHONE: &str = "BEGIN:VCARD\r
VERSION:3.0\r
PRODID:-//Apple Inc.//iPhone OS 17.4//EN\r
N:Lovelace;Ada;;;\r
FN:Ada Lovelace\r
ORG:Analytical Engines Ltd;\r
item1.TEL;type=pref:+44 7400 123456\r
item1.X-ABLabel:_$!<Mobile>!$_\r
TEL;type=CELL;type=VOICE;type=pref:(415) 555-0100\r
item2.EMAIL;type=INTERNET;type=pref:ada@example.com\r
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgMCAgMDAwMEAwMEBQgF\r
 BQQEBQoHBwYIDAoMDAsKCwsNDhIQDQ4RDgsLEBYQERMUFRUVDA8XGBYUGBIUFRT/2wBDAQMEBAUE\r
 BQkFBQkUDQsNFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQ=\r
END:VCARD\r
BEGIN:VCARD\r
VERSION:3.0\r
PRODID:-//Apple Inc.//iPhone OS 17.4//EN\r
N:;;;;\r
FN:Acme Plumbing\r
ORG:Acme Plumbing;Dispatch\r
TEL;type=WORK;type=VOICE:+1 (415) 555-0102\r
X-ABShowAs:COMPANY\r
END:VCARD\r
";

#[test]
fn iphone_export() {
    check(
        parse_vcard(IPHONE, country("US")),
        &[
            ("Ada Lovelace", &["+447400123456", "+14155550100"]),
            ("Acme Plumbing", &["+14155550102"]),
        ],
        &[],
    );
}

const GOOGLE: &str = "BEGIN:VCARD
VERSION:3.0
FN:Grace Brewster Mur
 ray Hopper
N:Hopper;Grace;Brewster Murray;;
TEL;TYPE=CELL:+1 202-555-0143
TEL;TYPE=WORK:(202) 555-0143
EMAIL;TYPE=INTERNET;TYPE=HOME:grace@example.com
CATEGORIES:myContacts
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Smith\\, John
N:Smith;John;;;
TEL;TYPE=CELL:+1 415 555 0103
NOTE:Owes us a call\\nabout the quote
CATEGORIES:myContacts
END:VCARD
";

#[test]
fn google_export_with_folding_escapes_and_a_repeated_number() {
    check(
        parse_vcard(GOOGLE, country("US")),
        &[
            ("Grace Brewster Murray Hopper", &["+12025550143"]),
            ("Smith, John", &["+14155550103"]),
        ],
        &[],
    );
}

const ANDROID_21: &str = "BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Dupont;=C3=89milie;;;
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=C3=89milie=20Dupo=
nt
TEL;CELL;PREF:06 12 34 56 78
TEL;HOME:+33 1 23 45 67 89
END:VCARD
BEGIN:VCARD
VERSION:2.1
N;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen;;;
TEL;WORK;VOICE:+49 30 1234567
END:VCARD
";

#[test]
fn android_21_with_quoted_printable_names() {
    check(
        parse_vcard(ANDROID_21, country("FR")),
        &[
            ("Émilie Dupont", &["+33612345678", "+33123456789"]),
            ("Jürgen Müller", &["+49301234567"]),
        ],
        &[],
    );
}

const VCARD_4: &str = "BEGIN:VCARD
VERSION:4.0
FN:Margaret Hamilton
TEL;VALUE=uri;TYPE=\"voice,cell\";PREF=1:tel:+1-415-555-0101
TEL;VALUE=uri;TYPE=work:tel:+1-415-555-0104;ext=104
END:VCARD
";

#[test]
fn vcard_4_tel_uris() {
    check(
        parse_vcard(VCARD_4, country("GB")),
        &[("Margaret Hamilton", &["+14155550101", "+14155550104"])],
        &[],
    );
}

const TROUBLE: &str = "BEGIN:VCARD
VERSION:3.0
N:;;;;
FN:
TEL;TYPE=CELL:+1 415 555 0199
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Charles Babbage
EMAIL:charles@example.com
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Wrong Number
TEL:12345
TEL:call me maybe
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Alan Turing
TEL;TYPE=CELL:+44 7400 123457
TEL;TYPE=HOME:555
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Ada Lovelace
TEL:+447400123456
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:ada lovelace
TEL:+44 7400 123456
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Ada Lovelace
TEL:+1 415 555 0100
END:VCARD
BEGIN:VCARD
VERSION:3.0
EMAIL:someone@example.com
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Never Finished
TEL:+1 415 555 0105
BEGIN:VCARD
VERSION:3.0
FN:Cut Off
TEL:+1 415 555 0106
";

#[test]
fn every_skip_is_reported_with_its_reason() {
    check(
        parse_vcard(TROUBLE, country("US")),
        &[
            ("Alan Turing", &["+447400123457"]),
            ("Ada Lovelace", &["+447400123456"]),
            // Same name, another number: possibly another person, so kept.
            ("Ada Lovelace", &["+14155550100"]),
        ],
        &[
            (1, "+1 415 555 0199", SkipReason::NoName),
            (2, "Charles Babbage", SkipReason::NoNumber),
            (3, "Wrong Number", invalid("12345")),
            (3, "Wrong Number", invalid("call me maybe")),
            (4, "Alan Turing", invalid("555")),
            (6, "ada lovelace", SkipReason::DuplicateInFile),
            (8, "someone@example.com", SkipReason::NoName),
            (9, "Never Finished", malformed("it has no END:VCARD line")),
            (
                10,
                "Cut Off",
                malformed("the file ends in the middle of it"),
            ),
        ],
    );
}

#[test]
fn name_falls_back_from_fn_to_n_to_org() {
    let card =
        |lines: &str| format!("BEGIN:VCARD\nVERSION:3.0\n{lines}\nTEL:+14155550100\nEND:VCARD\n");
    let name = |lines: &str| {
        let parsed = parse_vcard(&card(lines), country("US"));
        parsed.contacts.first().map(|c| c.name.clone())
    };
    assert_eq!(name("FN:  Ada   Lovelace "), Some("Ada Lovelace".into()));
    assert_eq!(
        name("N:Lovelace;Ada;King;Lady;"),
        Some("Lady Ada King Lovelace".into())
    );
    assert_eq!(name("FN:\nN:Lovelace;Ada;;;"), Some("Ada Lovelace".into()));
    assert_eq!(
        name("N:;;;;\nORG:Acme\\; Sons;Sales"),
        Some("Acme; Sons".into())
    );
    assert_eq!(name("item3.FN:Grouped"), Some("Grouped".into()));
    assert_eq!(name("fn:lower case"), Some("lower case".into()));
    assert_eq!(name("N:;;;;"), None);
}

#[test]
fn files_that_are_not_vcards() {
    check(parse_vcard("", country("US")), &[], &[]);
    check(parse_vcard("\n\n", country("US")), &[], &[]);
    check(
        parse_vcard("Name,Phone\nAda,+447400123456\n", country("US")),
        &[],
        &[(
            1,
            "Name,Phone",
            malformed("this is not a vCard (.vcf) file"),
        )],
    );
}

#[test]
fn odd_input_never_panics() {
    let samples = [
        "BEGIN:VCARD",
        "END:VCARD",
        "BEGIN:VCARD\n:\n;\n=\nTEL\nTEL;\nTEL:\nFN;ENCODING=QUOTED-PRINTABLE:=\nEND:VCARD",
        "BEGIN:VCARD\nFN;ENCODING=QUOTED-PRINTABLE:=E2=82\nTEL:+1\nEND:VCARD",
        "BEGIN:VCARD\nFN;X=\"a:b;c\":Quoted Param\nTEL:+14155550100\nEND:VCARD",
        "\u{feff}BEGIN:VCARD\r\nFN:Bom\r\nTEL:+14155550100\r\nEND:VCARD\r\n",
        " leading continuation\nBEGIN:VCARD\nN:\\\nEND:VCARD",
        "BEGIN:VCARD\nFN:é\\\nTEL:٤١٥\nEND:VCARD",
    ];
    for s in samples {
        let _ = parse_vcard(s, country("US"));
    }
    let bom = parse_vcard(samples[5], country("US"));
    assert_eq!(bom.contacts.len(), 1);
    let quoted = parse_vcard(samples[4], country("US"));
    assert_eq!(quoted.contacts[0].name, "Quoted Param");
}

// ---------------------------------------------------------------------------------------------
// CSV

const GOOGLE_CSV: &str = "\u{feff}First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,Phonetic Last Name,Name Prefix,Name Suffix,Nickname,File As,Organization Name,Organization Title,Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value
Ada,,Lovelace,,,,,,,,Analytical Engines,,,,,,* myContacts,* Home,ada@example.com,Mobile,+44 7400 123456 ::: +1 415-555-0100,Work Fax,+44 20 7946 0000
,,,,,,,,,,Acme Plumbing,,,,,,* myContacts,,,Work,(415) 555-0102,,
Charles,,Babbage,,,,,,,,,,,,,,* myContacts,* Work,charles@example.com,,,,
Alan,Mathison,Turing,,,,,,,,,,,,\"Met at the conference,
likes tea\",,* myContacts,,,Mobile,+44 7400 123457,Home,555
,,,,,,,,,,,,,,,,* myContacts,,,Mobile,+1 415 555 0199,,
Ada,,Lovelace,,,,,,,,,,,,,,* myContacts,,,Mobile,+447400123456,,
";

#[test]
fn google_csv_export() {
    check(
        parse_csv(GOOGLE_CSV, country("US")),
        &[
            // The "Work Fax" number is not one to text.
            ("Ada Lovelace", &["+447400123456", "+14155550100"]),
            ("Acme Plumbing", &["+14155550102"]),
            ("Alan Mathison Turing", &["+447400123457"]),
        ],
        &[
            (4, "Charles Babbage", SkipReason::NoNumber),
            (5, "Alan Mathison Turing", invalid("555")),
            (6, "+1 415 555 0199", SkipReason::NoName),
            (7, "Ada Lovelace", SkipReason::DuplicateInFile),
        ],
    );
}

const OUTLOOK_CSV: &str = "First Name,Middle Name,Last Name,Title,Suffix,Nickname,Given Yomi,Surname Yomi,E-mail Address,E-mail 2 Address,E-mail 3 Address,Home Phone,Home Phone 2,Business Phone,Business Phone 2,Mobile Phone,Car Phone,Other Phone,Primary Phone,Pager,Business Fax,Home Fax,Other Fax,Company Main Phone,Callback,Radio Phone,Telex,TTY/TDD Phone,IMAddress,Job Title,Department,Company,Office Location,Manager's Name,Assistant's Name,Assistant's Phone,Company Yomi\r
Grace,,Hopper,Rear Admiral,,,,,grace@example.com,,,,,(202) 555-0143,,202.555.0143,,,,,(202) 555-0199,,,,,,,,,,,US Navy,,,,(202) 555-0198,\r
Margaret,,Hamilton,,,,,,,,,+1 617 555 0111,,,,+1 617 555 0112,,,,+1 617 555 0113,,,,,,,,,,,,MIT,,,,,\r
Linus,,,,,,,,,,,,,,,not yet,,,,,,,,,,,,,,,,,,,,,\r
";

#[test]
fn outlook_csv_export() {
    check(
        parse_csv(OUTLOOK_CSV, country("US")),
        &[
            // Fax, pager and the assistant's line are not the contact's numbers to text.
            ("Grace Hopper", &["+12025550143"]),
            ("Margaret Hamilton", &["+16175550111", "+16175550112"]),
        ],
        &[(4, "Linus", invalid("not yet"))],
    );
}

const PHONE_APP_CSV: &str = "Full Name,Mobile,Phone,Email
Ada Lovelace,+44 7400 123456,,ada@example.com
\"Hopper, Grace\",(202) 555-0143; +1 415 555 0100,,

Émilie Dupont,,+33 6 12 34 56 78,
";

#[test]
fn simple_csv_with_header() {
    check(
        parse_csv(PHONE_APP_CSV, country("US")),
        &[
            ("Ada Lovelace", &["+447400123456"]),
            ("Hopper, Grace", &["+12025550143", "+14155550100"]),
            ("Émilie Dupont", &["+33612345678"]),
        ],
        &[],
    );
}

#[test]
fn csv_without_header() {
    let text = "Ada Lovelace,+44 7400 123456
\"Hopper, Grace\",(202) 555-0143,+1 415 555 0100
Nobody,
,+1 415 555 0101
Bad Number,12
";
    check(
        parse_csv(text, country("US")),
        &[
            ("Ada Lovelace", &["+447400123456"]),
            ("Hopper, Grace", &["+12025550143", "+14155550100"]),
        ],
        &[
            (3, "Nobody", SkipReason::NoNumber),
            (4, "+1 415 555 0101", SkipReason::NoName),
            (5, "Bad Number", invalid("12")),
        ],
    );
}

#[test]
fn european_spreadsheet_with_semicolons() {
    let text = "Nom;Prénom;Name;Telephone\nDupont;Émilie;Émilie Dupont;06 12 34 56 78\n";
    check(
        parse_csv(text, country("FR")),
        &[("Émilie Dupont", &["+33612345678"])],
        &[],
    );
    let text = "Name\tPhone\nJürgen Müller\t030 1234567\n";
    check(
        parse_csv(text, country("DE")),
        &[("Jürgen Müller", &["+49301234567"])],
        &[],
    );
}

#[test]
fn first_and_last_name_columns() {
    let text =
        "first_name,last_name,phone_number\nAda,Lovelace,+447400123456\n,Hopper,+12025550143\n";
    check(
        parse_csv(text, country("US")),
        &[
            ("Ada Lovelace", &["+447400123456"]),
            ("Hopper", &["+12025550143"]),
        ],
        &[],
    );
}

fn check_header(header: &str, expected_phone_columns: &[usize]) {
    let cells: Vec<&str> = header.split(',').collect();
    let phones: Vec<usize> = Columns::detect(&cells)
        .map(|c| c.phones.iter().map(|(i, _)| *i).collect())
        .unwrap_or_default();
    assert_eq!(phones, expected_phone_columns, "{header}");
}

#[test]
fn recognising_phone_columns() {
    check_header("Name,Phone", &[1]);
    check_header("NAME,TEL,MOBILE,Cell Phone,Telephone", &[1, 2, 3, 4]);
    check_header("Display Name,Number", &[1]);
    check_header(
        "Name,Phone 1 - Type,Phone 1 - Value,Phone 2 - Label,Phone 2 - Value",
        &[2, 4],
    );
    check_header("Name,Business Fax,Pager,Assistant's Phone,Phone Ext", &[]);
    check_header("Name,Account Number,Government ID Number", &[]);
    check_header("Ada Lovelace,+44 7400 123456", &[]);
}

#[test]
fn skip_reasons_read_as_sentences() {
    let reasons = [
        (SkipReason::NoName, "It has no name."),
        (SkipReason::NoNumber, "It has no phone number."),
        (
            invalid("12"),
            "\"12\" is not a valid phone number, so it was left out.",
        ),
        (
            malformed("it has no END:VCARD line"),
            "It could not be read: it has no END:VCARD line.",
        ),
        (
            SkipReason::DuplicateInFile,
            "It is a copy of a contact that appears earlier in the file.",
        ),
    ];
    for (reason, sentence) in reasons {
        assert_eq!(reason.to_string(), sentence);
        assert_eq!(
            serde_json::to_value(&reason).unwrap()["code"],
            reason.code()
        );
    }
}
