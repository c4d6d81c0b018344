//! Templates: saved texts such as "Hi {first_name}, your order is ready at {line}", filled per
//! recipient when a fan-out is planned, so each person gets their own first name.
//!
//! The variables are `{first_name}` (the first word of the contact's name), `{name}` (the
//! contact's whole name) and `{line}` (the sending line's label). Anything else in braces is
//! refused when the template is parsed, naming the word, and so is a brace left open. **A
//! literal brace is written twice**: `{{` gives `{` and `}}` gives `}` (the way Rust's
//! `format!` and Python's `str.format` escape them); a lone `}` is refused like a lone `{`, since
//! it is nearly always a typo of a variable.
//!
//! **A missing value is never sent as its marker**: [`Template::fill`] answers the variables
//! that have no value for a recipient (a number with no contact has no first name and no name)
//! instead of a text; only [`Template::preview`], for the composer's screen, shows them as
//! their markers.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::composer::MAX_BODY_CHARS;
use crate::error_code::ErrorCode;
use crate::model::TemplateId;
use crate::sms::{self, SmsCount};

/// A template's name, in characters: short enough for a list and a command line.
pub const MAX_NAME_CHARS: usize = 60;
/// A template's text, in characters: what the composer takes as a body.
pub const MAX_TEXT_CHARS: usize = MAX_BODY_CHARS;

/// A template as it is kept: its name is unique whatever the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SavedTemplate {
    pub id: TemplateId,
    pub name: String,
    pub text: String,
}

/// What a template can ask for, filled per recipient.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Variable {
    FirstName,
    Name,
    Line,
}

impl Variable {
    pub const ALL: [Variable; 3] = [Variable::FirstName, Variable::Name, Variable::Line];

    /// The word between the braces.
    pub fn word(self) -> &'static str {
        match self {
            Variable::FirstName => "first_name",
            Variable::Name => "name",
            Variable::Line => "line",
        }
    }

    /// `{first_name}`, as it is written in a template.
    pub fn marker(self) -> String {
        format!("{{{}}}", self.word())
    }

    /// What it is in a person's words: "no first name for {first_name}".
    pub fn described(self) -> &'static str {
        match self {
            Variable::FirstName => "first name",
            Variable::Name => "name",
            Variable::Line => "line",
        }
    }

    fn from_word(word: &str) -> Option<Variable> {
        Variable::ALL.into_iter().find(|v| v.word() == word)
    }
}

/// Why a template (or its name) is refused. Positions count characters from 1, as a person
/// does.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TemplateError {
    #[error(
        "{{{word}}} is not a template variable: use {{first_name}}, {{name}} or {{line}} \
         (write {{{{ or }}}} for a brace itself)."
    )]
    UnknownVariable { word: String },
    #[error(
        "The brace at character {at} is never closed: end the variable with }}, or write {{{{ \
         for a brace itself."
    )]
    Unclosed { at: usize },
    #[error(
        "The closing brace at character {at} has no opening one: write }}}} for a brace itself."
    )]
    UnopenedClose { at: usize },
    #[error("Give the template a name.")]
    NameEmpty,
    #[error("A template's name has at most {limit} characters; this one has {chars}.")]
    NameTooLong { chars: usize, limit: usize },
    #[error("Write the template's text.")]
    TextEmpty,
    #[error("A template's text has at most {limit} characters; this one has {chars}.")]
    TextTooLong { chars: usize, limit: usize },
}

impl TemplateError {
    pub fn code(&self) -> ErrorCode {
        ErrorCode::TemplateInvalid
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Variable),
}

/// A parsed template: text and variables in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// What one recipient fills a template with; `None` (or blank) is a missing value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Values<'a> {
    pub first_name: Option<&'a str>,
    pub name: Option<&'a str>,
    pub line: Option<&'a str>,
}

impl<'a> Values<'a> {
    /// A recipient's values: `contact` is the contact's name (`None` for a number that is no
    /// contact's), `line` the sending line's label (`None` while it is not chosen yet).
    pub fn for_recipient(contact: Option<&'a str>, line: Option<&'a str>) -> Values<'a> {
        Values {
            first_name: contact.and_then(first_name),
            name: contact,
            line,
        }
    }

    fn get(&self, var: Variable) -> Option<&'a str> {
        let value = match var {
            Variable::FirstName => self.first_name,
            Variable::Name => self.name,
            Variable::Line => self.line,
        };
        value.map(str::trim).filter(|v| !v.is_empty())
    }
}

/// The first word of a name ("Grace Hopper" → "Grace"); `None` for a blank name.
pub fn first_name(name: &str) -> Option<&str> {
    name.split_whitespace().next()
}

impl Template {
    /// Reads a template's text; `{{` and `}}` are literal braces.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|&(_, c)| c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|&(_, c)| c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::UnopenedClose { at: i + 1 }),
                '{' => {
                    let mut word = String::new();
                    loop {
                        match chars.next() {
                            Some((_, '}')) => break,
                            Some((_, '{')) | None => {
                                return Err(TemplateError::Unclosed { at: i + 1 })
                            }
                            Some((_, c)) => word.push(c),
                        }
                    }
                    let var = Variable::from_word(&word)
                        .ok_or(TemplateError::UnknownVariable { word })?;
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Var(var));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The variables the template uses, each once, in the order they first appear.
    pub fn variables(&self) -> Vec<Variable> {
        let mut out = Vec::new();
        for part in &self.parts {
            if let Part::Var(v) = part {
                if !out.contains(v) {
                    out.push(*v);
                }
            }
        }
        out
    }

    /// The text for one recipient, or the variables that recipient has no value for (each
    /// once, in order): then nothing may be sent to them.
    pub fn fill(&self, values: &Values<'_>) -> Result<String, Vec<Variable>> {
        let missing: Vec<Variable> = self
            .variables()
            .into_iter()
            .filter(|v| values.get(*v).is_none())
            .collect();
        if !missing.is_empty() {
            return Err(missing);
        }
        Ok(self.render(values))
    }

    /// The text as the composer shows it: a missing value stays as its marker, for the eye
    /// only (see [`Template::fill`] for what is sent).
    pub fn preview(&self, values: &Values<'_>) -> String {
        self.render(values)
    }

    fn render(&self, values: &Values<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => match values.get(*v) {
                    Some(value) => out.push_str(value),
                    None => out.push_str(&v.marker()),
                },
            }
        }
        out
    }
}

/// One recipient of a fan-out who lacks values: their place among the recipients and what
/// they lack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub recipient: usize,
    pub variables: Vec<Variable>,
}

/// The template filled for every recipient of a fan-out, in their order, or every recipient
/// who lacks a value (then nothing may be queued for anyone).
pub fn fill_each(
    template: &Template,
    recipients: &[Values<'_>],
) -> Result<Vec<String>, Vec<Missing>> {
    let mut bodies = Vec::with_capacity(recipients.len());
    let mut missing = Vec::new();
    for (i, values) in recipients.iter().enumerate() {
        match template.fill(values) {
            Ok(body) => bodies.push(body),
            Err(variables) => missing.push(Missing {
                recipient: i,
                variables,
            }),
        }
    }
    match missing.is_empty() {
        true => Ok(bodies),
        false => Err(missing),
    }
}

/// The count the composer shows for a templated fan-out: the costliest body's (most segments,
/// then most characters), since that is the most any one recipient is billed.
pub fn costliest(bodies: &[String]) -> SmsCount {
    bodies
        .iter()
        .map(|b| sms::count(b))
        .max_by_key(|c| (c.segments, c.chars))
        .unwrap_or_else(|| sms::count(""))
}

/// A template's name as it is kept: trimmed, 1 to [`MAX_NAME_CHARS`] characters.
pub fn check_name(name: &str) -> Result<String, TemplateError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 {
        return Err(TemplateError::NameEmpty);
    }
    if chars > MAX_NAME_CHARS {
        return Err(TemplateError::NameTooLong {
            chars,
            limit: MAX_NAME_CHARS,
        });
    }
    Ok(name.to_owned())
}

/// A template's text as it may be saved: not blank, within the composer's body limit, and a
/// template that parses.
pub fn check_text(text: &str) -> Result<Template, TemplateError> {
    if text.trim().is_empty() {
        return Err(TemplateError::TextEmpty);
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(TemplateError::TextTooLong {
            chars,
            limit: MAX_TEXT_CHARS,
        });
    }
    Template::parse(text)
}

/// The key under which names are unique: the same name in another case is the same template.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// "Grace Hopper has no first name for {first_name}": one recipient's missing values, in words.
pub fn missing_sentence(recipient: &str, missing: &[Variable]) -> String {
    let each: Vec<String> = missing
        .iter()
        .map(|v| format!("no {} for {}", v.described(), v.marker()))
        .collect();
    format!("{recipient} has {}", each.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Variable::*;

    const GRACE: Values<'static> = Values {
        first_name: Some("Grace"),
        name: Some("Grace Hopper"),
        line: Some("Sales"),
    };

    #[test]
    fn templates_are_filled_per_recipient_or_name_what_is_missing() {
        #[track_caller]
        fn check(text: &str, values: Values<'_>, expected: Result<&str, &[Variable]>) {
            let template = Template::parse(text).unwrap();
            let got = template.fill(&values);
            assert_eq!(
                got.as_deref().map_err(Vec::as_slice),
                expected,
                "{text:?} with {values:?}"
            );
        }
        let no_contact = Values::for_recipient(None, Some("Support"));
        let no_line = Values::for_recipient(Some("Grace Hopper"), None);
        let order = "Hi {first_name}, your order is ready at {line}";
        check(order, GRACE, Ok("Hi Grace, your order is ready at Sales"));
        check(
            order,
            Values::for_recipient(Some("Ada Lovelace"), Some("Support")),
            Ok("Hi Ada, your order is ready at Support"),
        );
        check(order, no_contact, Err(&[FirstName]));
        check(order, no_line, Err(&[Line]));
        check("Dear {name}", GRACE, Ok("Dear Grace Hopper"));
        check("{name} / {first_name}", no_contact, Err(&[Name, FirstName]));
        check(
            "{first_name}{first_name}",
            Values::for_recipient(Some("  Cher  "), None),
            Ok("CherCher"),
        );
        check("{first_name}, {first_name}", no_contact, Err(&[FirstName]));
        check(
            "{line}",
            Values {
                line: Some("  "),
                ..GRACE
            },
            Err(&[Line]),
        );
        check("No variables at all", no_contact, Ok("No variables at all"));
        check(
            "{{first_name}} is written so",
            GRACE,
            Ok("{first_name} is written so"),
        );
        check("a {{ b }} c", no_contact, Ok("a { b } c"));
        check("{{{name}}}", GRACE, Ok("{Grace Hopper}"));
        check("Prix: 5 € {line}", GRACE, Ok("Prix: 5 € Sales"));
    }

    #[test]
    fn unknown_variables_and_stray_braces_are_refused_naming_them() {
        #[track_caller]
        fn check(text: &str, expected: TemplateError, sentence: &str) {
            let got = Template::parse(text).unwrap_err();
            assert_eq!(got, expected, "{text:?}");
            assert_eq!(got.to_string(), sentence, "{text:?}");
            assert_eq!(got.code(), ErrorCode::TemplateInvalid);
        }
        check(
            "Hi {firstname}",
            TemplateError::UnknownVariable {
                word: "firstname".into(),
            },
            "{firstname} is not a template variable: use {first_name}, {name} or {line} \
             (write {{ or }} for a brace itself).",
        );
        check(
            "Hi {}",
            TemplateError::UnknownVariable { word: "".into() },
            "{} is not a template variable: use {first_name}, {name} or {line} \
             (write {{ or }} for a brace itself).",
        );
        check(
            "{ name }",
            TemplateError::UnknownVariable {
                word: " name ".into(),
            },
            "{ name } is not a template variable: use {first_name}, {name} or {line} \
             (write {{ or }} for a brace itself).",
        );
        let unclosed = "The brace at character 4 is never closed: end the variable with }, or \
                        write {{ for a brace itself.";
        check(
            "Hi {first_name",
            TemplateError::Unclosed { at: 4 },
            unclosed,
        );
        check(
            "Hi {first {name}",
            TemplateError::Unclosed { at: 4 },
            unclosed,
        );
        check(
            "Hi first_name}",
            TemplateError::UnopenedClose { at: 14 },
            "The closing brace at character 14 has no opening one: write }} for a brace itself.",
        );
        check(
            "é{name}}",
            TemplateError::UnopenedClose { at: 8 },
            "The closing brace at character 8 has no opening one: write }} for a brace itself.",
        );
    }

    #[test]
    fn the_preview_shows_a_missing_value_as_its_marker() {
        let template = Template::parse("Hi {first_name}, see you at {line}").unwrap();
        let check = |values: Values<'_>, expected: &str| {
            assert_eq!(template.preview(&values), expected, "{values:?}");
        };
        check(GRACE, "Hi Grace, see you at Sales");
        check(
            Values::for_recipient(None, Some("Sales")),
            "Hi {first_name}, see you at Sales",
        );
        check(Values::default(), "Hi {first_name}, see you at {line}");
    }

    #[test]
    fn variables_are_listed_once_in_order() {
        let check = |text: &str, expected: &[Variable]| {
            assert_eq!(
                Template::parse(text).unwrap().variables(),
                expected,
                "{text:?}"
            );
        };
        check("plain", &[]);
        check(
            "{line} {name} {line} {first_name}",
            &[Line, Name, FirstName],
        );
        check("{{line}}", &[]);
    }

    #[test]
    fn names_and_texts_have_limits() {
        #[track_caller]
        fn name(input: &str, expected: Result<&str, TemplateError>) {
            assert_eq!(
                check_name(input).as_deref(),
                expected.as_deref(),
                "{input:?}"
            );
        }
        name("Order ready", Ok("Order ready"));
        name("  Order ready ", Ok("Order ready"));
        name("", Err(TemplateError::NameEmpty));
        name("   ", Err(TemplateError::NameEmpty));
        name(&"é".repeat(60), Ok(&"é".repeat(60)));
        name(
            &"n".repeat(61),
            Err(TemplateError::NameTooLong {
                chars: 61,
                limit: 60,
            }),
        );

        #[track_caller]
        fn text(input: &str, expected: Result<(), TemplateError>) {
            assert_eq!(check_text(input).map(|_| ()), expected, "{input:?}");
        }
        text("Hi {name}", Ok(()));
        text(" \n", Err(TemplateError::TextEmpty));
        text(&"x".repeat(MAX_BODY_CHARS), Ok(()));
        text(
            &"x".repeat(MAX_BODY_CHARS + 1),
            Err(TemplateError::TextTooLong {
                chars: MAX_BODY_CHARS + 1,
                limit: MAX_BODY_CHARS,
            }),
        );
        text(
            "Hi {nom}",
            Err(TemplateError::UnknownVariable { word: "nom".into() }),
        );
    }

    #[test]
    fn names_are_the_same_in_any_case() {
        assert_eq!(name_key(" Order Ready "), name_key("order ready"));
        assert_eq!(name_key("ÉTÉ"), name_key("été"));
        assert_ne!(name_key("Order"), name_key("Orders"));
    }

    #[test]
    fn a_fan_out_is_filled_for_everyone_or_names_everyone_who_lacks_a_value() {
        #[track_caller]
        fn check(
            text: &str,
            people: &[Option<&str>],
            expected: Result<&[&str], &[(usize, &[Variable])]>,
        ) {
            let template = Template::parse(text).unwrap();
            let values: Vec<Values<'_>> = people
                .iter()
                .map(|p| Values::for_recipient(*p, Some("Sales")))
                .collect();
            let got = fill_each(&template, &values);
            let want = expected.map(|b| b.iter().map(|s| s.to_string()).collect::<Vec<_>>());
            let want = want.map_err(|m| {
                m.iter()
                    .map(|(i, v)| Missing {
                        recipient: *i,
                        variables: v.to_vec(),
                    })
                    .collect::<Vec<_>>()
            });
            assert_eq!(got, want, "{text:?} for {people:?}");
        }
        let order = "Hi {first_name}, your order is ready at {line}";
        check(
            order,
            &[Some("Ada Lovelace"), Some("Grace Hopper")],
            Ok(&[
                "Hi Ada, your order is ready at Sales",
                "Hi Grace, your order is ready at Sales",
            ]),
        );
        check(
            order,
            &[Some("Ada Lovelace"), None, Some("Grace Hopper"), None],
            Err(&[(1, &[FirstName]), (3, &[FirstName])]),
        );
        check(
            "Thanks from {line}",
            &[None, None],
            Ok(&["Thanks from Sales"; 2]),
        );
        check(order, &[], Ok(&[]));
    }

    #[test]
    fn the_counter_counts_the_costliest_body() {
        let check = |bodies: &[&str], expected: &str| {
            let bodies: Vec<String> = bodies.iter().map(|s| s.to_string()).collect();
            assert_eq!(costliest(&bodies), sms::count(expected), "{bodies:?}");
        };
        check(&["Hi Al", "Hi Alexandra"], "Hi Alexandra");
        check(&["Hi Zoë", "Hi Bartholomew"], "Hi Bartholomew");
        let long = "x".repeat(161);
        check(&["Hi Ada", &long, "Hi Bo"], &long);
        // Two segments of UCS-2 cost more than one of GSM-7 with more characters.
        let accented = "ő".repeat(71);
        let plain = "x".repeat(150);
        check(&[&plain, &accented], &accented);
        check(&[], "");
    }

    #[test]
    fn missing_values_read_as_a_sentence() {
        let check = |who: &str, missing: &[Variable], expected: &str| {
            assert_eq!(missing_sentence(who, missing), expected);
        };
        check(
            "Grace Hopper",
            &[FirstName],
            "Grace Hopper has no first name for {first_name}",
        );
        check(
            "+1 415-555-0199",
            &[FirstName, Name],
            "+1 415-555-0199 has no first name for {first_name} and no name for {name}",
        );
    }
}
