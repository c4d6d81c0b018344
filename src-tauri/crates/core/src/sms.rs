//! The composer's live counter: how many characters, which encoding and how many SMS segments
//! a body costs (3GPP TS 23.038 / 23.040).

use serde::{Deserialize, Serialize};

/// Septets in a single-segment GSM-7 message.
pub const GSM7_SINGLE: usize = 160;
/// Septets per segment once a GSM-7 message is split (the rest of 160 carries the UDH).
pub const GSM7_MULTI: usize = 153;
/// UTF-16 code units in a single-segment UCS-2 message.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 code units per segment once a UCS-2 message is split.
pub const UCS2_MULTI: usize = 67;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// The GSM 03.38 alphabet, 7 bits a character: cheaper, so used whenever the body allows.
    Gsm7,
    /// UTF-16, needed as soon as one character is outside GSM-7.
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
pub struct SmsCount {
    /// Unicode scalar values, what a person would call characters (the 1,600 limit uses it).
    pub chars: usize,
    pub encoding: Encoding,
    /// Septets for GSM-7 (extension characters count two), UTF-16 code units for UCS-2.
    pub units: usize,
    /// 0 for an empty body.
    pub segments: usize,
    /// Units that still fit in the last segment before another one starts.
    pub remaining: usize,
}

/// Counts a body the way the carrier will bill it.
pub fn count(body: &str) -> SmsCount {
    let gsm: Option<Vec<usize>> = body.chars().map(gsm7_septets).collect();
    let (encoding, widths, single, multi) = match gsm {
        Some(widths) => (Encoding::Gsm7, widths, GSM7_SINGLE, GSM7_MULTI),
        None => {
            let widths = body.chars().map(char::len_utf16).collect();
            (Encoding::Ucs2, widths, UCS2_SINGLE, UCS2_MULTI)
        }
    };
    let units: usize = widths.iter().sum();
    let (segments, remaining) = if units <= single {
        (usize::from(units > 0), single - units)
    } else {
        split(&widths, multi)
    };
    SmsCount {
        chars: widths.len(),
        encoding,
        units,
        segments,
        remaining,
    }
}

/// Fills segments greedily. A character's units travel together: an escape and its extension
/// character, or the two halves of a surrogate pair, are never cut apart, so a segment may end
/// one unit short.
fn split(widths: &[usize], per_segment: usize) -> (usize, usize) {
    let mut segments = 1;
    let mut used = 0;
    for &w in widths {
        if used + w > per_segment {
            segments += 1;
            used = 0;
        }
        used += w;
    }
    (segments, per_segment - used)
}

/// Septets the character takes in GSM-7, or `None` if GSM-7 cannot carry it.
fn gsm7_septets(c: char) -> Option<usize> {
    if is_gsm7_basic(c) {
        Some(1)
    } else if is_gsm7_extension(c) {
        Some(2)
    } else {
        None
    }
}

/// The basic table's characters outside printable ASCII (besides LF and CR).
const GSM7_BASIC_NON_ASCII: &str = "£¥èéùìòÇØøÅåΔΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà";

/// The extension table: each costs an escape septet plus its own. Form feed is there too.
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

fn is_gsm7_basic(c: char) -> bool {
    match c {
        // Printable ASCII is in the basic table except for the characters GSM moved to the
        // extension table, and ` which it does not have at all.
        ' '..='~' => !GSM7_EXTENSION.contains(c) && c != '`',
        '\n' | '\r' => true,
        _ => GSM7_BASIC_NON_ASCII.contains(c),
    }
}

fn is_gsm7_extension(c: char) -> bool {
    GSM7_EXTENSION.contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Encoding::{Gsm7, Ucs2};

    /// `expected` is (encoding, units, segments, remaining); `chars` is checked separately.
    fn check(body: &str, expected: (Encoding, usize, usize, usize)) {
        let c = count(body);
        let (encoding, units, segments, remaining) = expected;
        assert_eq!(
            (c.encoding, c.units, c.segments, c.remaining),
            (encoding, units, segments, remaining),
            "body of {} chars starting {:?}",
            c.chars,
            body.chars().take(12).collect::<String>()
        );
        assert_eq!(c.chars, body.chars().count());
    }

    fn a(n: usize) -> String {
        "a".repeat(n)
    }

    #[test]
    fn empty_body_costs_nothing() {
        check("", (Gsm7, 0, 0, 160));
    }

    #[test]
    fn gsm7_boundaries() {
        check("Hi", (Gsm7, 2, 1, 158));
        check(&a(159), (Gsm7, 159, 1, 1));
        check(&a(160), (Gsm7, 160, 1, 0));
        check(&a(161), (Gsm7, 161, 2, 145));
        check(&a(306), (Gsm7, 306, 2, 0));
        check(&a(307), (Gsm7, 307, 3, 152));
        check(&a(459), (Gsm7, 459, 3, 0));
        check(&a(460), (Gsm7, 460, 4, 152));
        check(&a(1600), (Gsm7, 1600, 11, 83));
    }

    #[test]
    fn extension_characters_count_double() {
        check("€", (Gsm7, 2, 1, 158));
        check("^{}\\[~]|€", (Gsm7, 18, 1, 142));
        check("\u{c}", (Gsm7, 2, 1, 158));
        check(&format!("{}€", a(158)), (Gsm7, 160, 1, 0));
        check(&format!("{}€", a(159)), (Gsm7, 161, 2, 145));
    }

    #[test]
    fn extension_character_never_splits_across_segments() {
        // 152 septets then a two-septet character: it would straddle 153, so it opens segment 2.
        check(&format!("{}€{}", a(152), a(10)), (Gsm7, 164, 2, 141));
        // Exactly filling 153 with it is fine.
        check(&format!("{}€{}", a(151), a(10)), (Gsm7, 163, 2, 143));
        check(&format!("{}[{}", a(152), a(153)), (Gsm7, 307, 3, 151));
        // Without the rule this would be 306 septets in 2 segments.
        check(&format!("{}€{}", a(152), a(152)), (Gsm7, 306, 3, 152));
    }

    #[test]
    fn whole_basic_table_stays_gsm7() {
        let basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
        assert_eq!(basic.chars().count(), 127, "every basic character but ESC");
        let c = count(basic);
        assert_eq!((c.encoding, c.units), (Gsm7, 127));
    }

    #[test]
    fn one_character_outside_gsm7_switches_to_ucs2() {
        check("Café ç", (Ucs2, 6, 1, 64));
        check("`", (Ucs2, 1, 1, 69));
        check("\t", (Ucs2, 1, 1, 69));
        check("Привет", (Ucs2, 6, 1, 64));
        check("€ç", (Ucs2, 2, 1, 68));
        check("🙂", (Ucs2, 2, 1, 68));
    }

    #[test]
    fn ucs2_boundaries() {
        let u = |n: usize| "ж".repeat(n);
        check(&u(69), (Ucs2, 69, 1, 1));
        check(&u(70), (Ucs2, 70, 1, 0));
        check(&u(71), (Ucs2, 71, 2, 63));
        check(&u(134), (Ucs2, 134, 2, 0));
        check(&u(135), (Ucs2, 135, 3, 66));
        check(&u(1600), (Ucs2, 1600, 24, 8));
    }

    #[test]
    fn surrogate_pair_never_splits_across_segments() {
        let u = |n: usize| "ж".repeat(n);
        check(&format!("{}🙂", u(68)), (Ucs2, 70, 1, 0));
        check(&format!("{}🙂", u(69)), (Ucs2, 71, 2, 63));
        // 66 units then an emoji would straddle 67, so it opens segment 2.
        check(&format!("{}🙂{}", u(66), u(10)), (Ucs2, 78, 2, 55));
        check(&format!("{}🙂{}", u(65), u(10)), (Ucs2, 77, 2, 57));
        check(&"🙂".repeat(35), (Ucs2, 70, 1, 0));
        // 33 emoji fill only 66 units of the first 67-unit segment, so the second holds 6 units
        // (61 left), not the naive 5.
        check(&"🙂".repeat(36), (Ucs2, 72, 2, 61));
    }

    #[test]
    fn chars_are_scalar_values_not_bytes() {
        let c = count("é🙂€");
        assert_eq!(c.chars, 3);
    }
}
