//! Phone numbers as people type them, turned into E.164 (and back into something readable).
//!
//! Parsing and validation are libphonenumber's rules (through the `phonenumber` crate); this
//! module only decides what counts as a typed phone number at all and words the refusals.

use crate::error_code::ErrorCode;
use crate::model::E164;
use phonenumber::{country::Id, metadata::DATABASE, Mode, PhoneNumber, Type};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

/// A region whose numbering plan we know (ISO 3166 alpha-2, e.g. `US`, `GB`), used to read
/// numbers typed without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Country(Id);

impl Country {
    /// Accepts the two-letter code in any case, surrounded by blanks or not.
    pub fn parse(code: &str) -> Result<Country, CountryError> {
        let upper = code.trim().to_ascii_uppercase();
        let unknown = || CountryError::Unknown {
            input: code.trim().to_owned(),
        };
        if upper.len() != 2 || !upper.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(unknown());
        }
        let id = Id::from_str(&upper).map_err(|_| unknown())?;
        // The parser unwraps the region's metadata, so a code it has no plan for must never
        // reach it.
        if DATABASE.by_id(id.as_ref()).is_none() {
            return Err(unknown());
        }
        Ok(Country(id))
    }

    /// The two-letter code, upper case.
    pub fn code(&self) -> &str {
        self.0.as_ref()
    }

    /// The international calling code, e.g. 44 for `GB`.
    pub fn calling_code(&self) -> u16 {
        DATABASE
            .by_id(self.0.as_ref())
            .map_or(0, |meta| meta.country_code())
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Country {
    type Err = CountryError;

    fn from_str(s: &str) -> Result<Country, CountryError> {
        Country::parse(s)
    }
}

impl TryFrom<String> for Country {
    type Error = CountryError;

    fn try_from(s: String) -> Result<Country, CountryError> {
        Country::parse(&s)
    }
}

impl From<Country> for String {
    fn from(c: Country) -> String {
        c.code().to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CountryError {
    #[serde(rename = "unknown_country")]
    #[error(
        "\"{input}\" is not a country code we know. Use a two-letter code such as US, GB or FR."
    )]
    Unknown { input: String },
}

impl CountryError {
    pub fn code(&self) -> ErrorCode {
        match self {
            CountryError::Unknown { .. } => ErrorCode::UnknownCountry,
        }
    }
}

/// Why a typed number was refused. Each message tells the person what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum PhoneError {
    #[error("Enter a phone number.")]
    #[serde(rename = "number_empty")]
    Empty,
    #[error("A phone number cannot contain letters.")]
    #[serde(rename = "number_has_letters")]
    HasLetters,
    #[error("A phone number can only contain digits, spaces, brackets, dashes and a leading +.")]
    NotANumber,
    #[error("This phone number is too short.")]
    #[serde(rename = "number_too_short")]
    TooShort,
    #[error("This phone number is too long.")]
    #[serde(rename = "number_too_long")]
    TooLong,
    #[error("This number starts with a country code that does not exist.")]
    UnknownCountryCode,
    #[error(
        "This is not a valid phone number. Check the digits, and start with + and the country \
         code if the number is from another country."
    )]
    #[serde(rename = "invalid_number")]
    Invalid,
}

impl PhoneError {
    pub fn code(&self) -> ErrorCode {
        match self {
            PhoneError::Empty => ErrorCode::NumberEmpty,
            PhoneError::HasLetters => ErrorCode::NumberHasLetters,
            PhoneError::NotANumber => ErrorCode::NotANumber,
            PhoneError::TooShort => ErrorCode::NumberTooShort,
            PhoneError::TooLong => ErrorCode::NumberTooLong,
            PhoneError::UnknownCountryCode => ErrorCode::UnknownCountryCode,
            PhoneError::Invalid => ErrorCode::InvalidNumber,
        }
    }
}

/// Reads a number as a person would type or paste it: with or without the country code
/// (`+44…`, `00 44…`), with any spacing and punctuation, or as a `tel:` URI.
pub fn parse(input: &str, default_country: Country) -> Result<E164, PhoneError> {
    let dialled = dialled_form(input)?;
    let number = phonenumber::parse(Some(default_country.0), &dialled).map_err(|e| {
        use phonenumber::ParseError as P;
        match e {
            P::InvalidCountryCode => PhoneError::UnknownCountryCode,
            P::TooLong | P::MalformedInteger(_) => PhoneError::TooLong,
            P::NoNumber | P::TooShortAfterIdd | P::TooShortNsn => PhoneError::TooShort,
        }
    })?;
    if !phonenumber::is_valid(&number) {
        return Err(why_invalid(&number));
    }
    let e164 = formatted(&number, Mode::E164).ok_or(PhoneError::Invalid)?;
    // A few tiny numbering plans have valid numbers shorter than the store's E.164 minimum.
    E164::from_normalized(&e164).ok_or(PhoneError::TooShort)
}

/// `+44 7400 123456`: the form to show when the number may be from anywhere.
pub fn format_international(number: &E164) -> String {
    format_as(number, Mode::International)
}

/// `07400 123456`: the form a person from the number's own country would write.
pub fn format_national(number: &E164) -> String {
    format_as(number, Mode::National)
}

fn format_as(number: &E164, mode: Mode) -> String {
    // A short code or a sender name is shown as the carrier gave it: libphonenumber would read
    // letters as a keypad's digits.
    if !number.is_phone_number() {
        return number.as_str().to_owned();
    }
    // An E164 read back from the store may belong to a plan newer than our metadata; showing it
    // raw beats showing nothing.
    phonenumber::parse(None, number.as_str())
        .ok()
        .and_then(|parsed| formatted(&parsed, mode))
        .unwrap_or_else(|| number.as_str().to_owned())
}

/// The formatter fails (rather than panics) for a calling code it has no metadata for, but
/// `to_string` would turn that failure into a panic.
fn formatted(number: &PhoneNumber, mode: Mode) -> Option<String> {
    let mut out = String::new();
    fmt::write(&mut out, format_args!("{}", number.format().mode(mode))).ok()?;
    Some(out)
}

/// Reduces the input to what would be dialled: an optional leading `+` and digits.
fn dialled_form(input: &str) -> Result<String, PhoneError> {
    let mut text = input.trim();
    if let Some(uri) = text.get(..4).filter(|p| p.eq_ignore_ascii_case("tel:")) {
        text = &text[uri.len()..];
        // URI parameters (`;phone-context=`, `;ext=`) say nothing a text message can use.
        if let Some(end) = text.find(';') {
            text = &text[..end];
        }
        text = text.trim();
    }
    if text.is_empty() {
        return Err(PhoneError::Empty);
    }

    let mut plus = false;
    let mut digits = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' | '＋' if digits.is_empty() && !plus => plus = true,
            c if is_separator(c) => {}
            c if c.is_alphabetic() => return Err(PhoneError::HasLetters),
            _ => return Err(PhoneError::NotANumber),
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::NotANumber);
    }
    if plus {
        Ok(format!("+{digits}"))
    } else if let Some(rest) = digits.strip_prefix("00") {
        // 00 is the international prefix almost everywhere, so numbers from abroad are often
        // written that way; read it as + even where the local prefix differs (011 in the US).
        Ok(format!("+{rest}"))
    } else {
        Ok(digits)
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '(' | ')' | '[' | ']' | '-' | '.' | '/' | '‐' | '‑' | '‒' | '–' | '—' | '−'
        )
}

/// Tells "wrong length" apart from "right length, but no such number", because the fix differs.
fn why_invalid(number: &PhoneNumber) -> PhoneError {
    // A number matching none of its calling code's regions has no metadata of its own; the main
    // region's lengths are the ones a person would be measured against.
    let code = number.code().value();
    let meta = number.metadata(&DATABASE).or_else(|| {
        let regions = DATABASE.by_code(&code)?;
        let main = regions.iter().find(|m| m.is_main_country_for_code());
        main.or(regions.first()).copied()
    });
    let Some(meta) = meta else {
        return PhoneError::UnknownCountryCode;
    };
    let national = number.national();
    let len = national.value().to_string().len() + usize::from(national.zeros());
    // The metadata leaves the general lengths empty; the per-type ones are always filled in.
    let types = [
        Type::FixedLine,
        Type::Mobile,
        Type::TollFree,
        Type::PremiumRate,
        Type::SharedCost,
        Type::PersonalNumber,
        Type::Voip,
        Type::Pager,
        Type::Uan,
        Type::Voicemail,
    ];
    let lengths: Vec<u16> = types
        .into_iter()
        .filter_map(|t| meta.descriptors().get(t))
        .flat_map(|d| d.possible_length().iter().copied())
        .collect();
    match (lengths.iter().min(), lengths.iter().max()) {
        (Some(&min), _) if len < usize::from(min) => PhoneError::TooShort,
        (_, Some(&max)) if len > usize::from(max) => PhoneError::TooLong,
        _ => PhoneError::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country(code: &str) -> Country {
        Country::parse(code).expect(code)
    }

    fn check(input: &str, default_country: &str, expected: Result<&str, PhoneError>) {
        let got = parse(input, country(default_country));
        let got = got.as_ref().map(E164::as_str).map_err(Clone::clone);
        assert_eq!(got, expected, "parse({input:?}, {default_country})");
    }

    #[test]
    fn numbers_people_type() {
        check("+44 7400 123456", "US", Ok("+447400123456"));
        check("07400 123456", "GB", Ok("+447400123456"));
        check("(415) 555-0100", "US", Ok("+14155550100"));
        check("415.555.0100", "US", Ok("+14155550100"));
        check("1 415 555 0100", "US", Ok("+14155550100"));
        check("+1 (415) 555-0100", "GB", Ok("+14155550100"));
        check("00 44 7400 123456", "US", Ok("+447400123456"));
        check("0044 7400 123456", "FR", Ok("+447400123456"));
        check("011 44 7400 123456", "US", Ok("+447400123456"));
        check("tel:+1-415-555-0100", "GB", Ok("+14155550100"));
        check("TEL:+14155550100", "GB", Ok("+14155550100"));
        check("tel:+1-415-555-0100;ext=12", "GB", Ok("+14155550100"));
        check("  +33 6 12 34 56 78  ", "US", Ok("+33612345678"));
        check("06 12 34 56 78", "FR", Ok("+33612345678"));
        check("030/1234567", "DE", Ok("+49301234567"));
        check("+1\u{a0}415\u{a0}555\u{a0}0100", "US", Ok("+14155550100"));
        check("415–555–0100", "US", Ok("+14155550100"));
        check("+39 06 1234 5678", "US", Ok("+390612345678"));
    }

    #[test]
    fn numbers_refused() {
        check("", "US", Err(PhoneError::Empty));
        check("   ", "US", Err(PhoneError::Empty));
        check("tel:", "US", Err(PhoneError::Empty));
        check("1-800-FLOWERS", "US", Err(PhoneError::HasLetters));
        check("call me", "US", Err(PhoneError::HasLetters));
        check("415 555 0100 ext 3", "US", Err(PhoneError::HasLetters));
        check("#31#", "US", Err(PhoneError::NotANumber));
        check("+", "US", Err(PhoneError::NotANumber));
        check("---", "US", Err(PhoneError::NotANumber));
        check("1+2", "US", Err(PhoneError::NotANumber));
        check("12", "US", Err(PhoneError::TooShort));
        // A local number without its area code.
        check("555 0100", "US", Err(PhoneError::TooShort));
        check("+44 7700 900123", "US", Err(PhoneError::Invalid));
        check("+44 7700", "US", Err(PhoneError::TooShort));
        check("+1 415 555 0100 1234 5678", "US", Err(PhoneError::TooLong));
        check("41555501001", "US", Err(PhoneError::TooLong));
        check("+999 1234 5678", "US", Err(PhoneError::UnknownCountryCode));
        check("+1 415 055 0100", "US", Err(PhoneError::Invalid));
        check("+44 1234 5", "US", Err(PhoneError::TooShort));
    }

    #[test]
    fn unusual_input_never_panics() {
        let samples = [
            "+",
            "++1",
            "0",
            "00",
            "000",
            "0000000000000000000000000",
            "+0",
            "+00",
            "tel:;",
            "tel:+",
            "99999999999999999999999999999999",
            "+1 ()",
            "٤١٥٥٥٥٠١٠٠",
            "🙂",
            "\u{0}",
            "(((((",
            "+ 1",
            "tel:tel:+1",
            "+2",
            "+3",
            "+80012345678",
            "+8",
            "+88",
        ];
        for input in samples {
            for c in ["US", "GB", "DE", "IT", "JP", "BR", "IN"] {
                let _ = parse(input, country(c));
            }
        }
    }

    fn check_format(e164: &str, international: &str, national: &str) {
        let n = E164::from_sender(e164).expect(e164);
        assert_eq!(format_international(&n), international, "{e164}");
        assert_eq!(format_national(&n), national, "{e164}");
    }

    #[test]
    fn formats_for_display() {
        check_format("+14155550100", "+1 415-555-0100", "(415) 555-0100");
        // NANP numbers as a person there reads them; other plans grouped by their own rules.
        check_format("+14155550123", "+1 415-555-0123", "(415) 555-0123");
        check_format("+16135550123", "+1 613-555-0123", "(613) 555-0123");
        check_format("+4930123456", "+49 30 123456", "030 123456");
        check_format("+81312345678", "+81 3-1234-5678", "03-1234-5678");
        check_format("+447400123456", "+44 7400 123456", "07400 123456");
        check_format("+33612345678", "+33 6 12 34 56 78", "06 12 34 56 78");
        // A number from no plan we know still shows, just unformatted.
        check_format("+99912345678", "+99912345678", "+99912345678");
        // Senders that are no phone number are shown as they are.
        check_format("89363", "89363", "89363");
        check_format("GOOGLE", "GOOGLE", "GOOGLE");
        check_format("800-FLOWERS", "800-FLOWERS", "800-FLOWERS");
        check_format("My Bank", "My Bank", "My Bank");
    }

    fn check_country(input: &str, expected: Result<&str, &str>) {
        let got = Country::parse(input);
        let got = got
            .as_ref()
            .map(Country::code)
            .map_err(|e| e.code().as_str());
        assert_eq!(got, expected, "{input:?}");
    }

    #[test]
    fn countries() {
        check_country("US", Ok("US"));
        check_country("gb", Ok("GB"));
        check_country(" fr ", Ok("FR"));
        check_country("XX", Err("unknown_country"));
        check_country("USA", Err("unknown_country"));
        check_country("", Err("unknown_country"));
        check_country("001", Err("unknown_country"));
        check_country("éé", Err("unknown_country"));
        assert_eq!(country("GB").calling_code(), 44);
        assert_eq!(country("GB").to_string(), "GB");
        let e = Country::parse("XX").unwrap_err();
        assert_eq!(serde_json::to_value(&e).unwrap()["code"], e.code().as_str());
        assert_eq!(
            e.to_string(),
            "\"XX\" is not a country code we know. Use a two-letter code such as US, GB or FR."
        );
    }

    #[test]
    fn country_serialises_as_its_code() {
        let json = serde_json::to_string(&country("DE")).unwrap();
        assert_eq!(json, "\"DE\"");
        assert_eq!(
            serde_json::from_str::<Country>("\"de\"").unwrap(),
            country("DE")
        );
        assert!(serde_json::from_str::<Country>("\"ZZ\"").is_err());
    }

    #[test]
    fn error_codes_match_their_serialised_tag() {
        for e in [
            PhoneError::Empty,
            PhoneError::HasLetters,
            PhoneError::NotANumber,
            PhoneError::TooShort,
            PhoneError::TooLong,
            PhoneError::UnknownCountryCode,
            PhoneError::Invalid,
        ] {
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(json["code"], e.code().as_str());
            assert!(e.to_string().ends_with('.'), "{e}");
        }
    }
}
