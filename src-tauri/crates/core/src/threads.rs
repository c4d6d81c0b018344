//! How a thread's counterpart is named in lists and headers.

use crate::model::E164;
use crate::phone;

/// The contact's name when there is one worth showing, else the number formatted
/// internationally (the number may be from any country, so never the national form).
pub fn display_name(contact_name: Option<&str>, number: &E164) -> String {
    match contact_name.map(str::trim) {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => phone::format_international(number),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: Option<&str>, number: &str, expected: &str) {
        let number = E164::from_sender(number).unwrap();
        assert_eq!(display_name(name, &number), expected, "{name:?} {number}");
    }

    #[test]
    fn names_and_numbers() {
        check(Some("Ada Lovelace"), "+447400123456", "Ada Lovelace");
        check(Some("  Ada  "), "+447400123456", "Ada");
        check(None, "+447400123456", "+44 7400 123456");
        check(Some(""), "+14155550100", "+1 415-555-0100");
        check(Some("   "), "+14155550100", "+1 415-555-0100");
        check(None, "89363", "89363");
        check(None, "GOOGLE", "GOOGLE");
    }
}
