//! Templates: the saved texts (list, add, remove; a name is found by the client that reads it
//! from a person, `Engine::template_named` for the CLI), and filling one for the recipients of a
//! send (`fill_for`), which `compose` calls when the body is a template. A recipient who lacks a
//! value refuses the whole send before anything is queued, naming them.

use switchboard_core::model::TemplateId;
use switchboard_core::templates::{self, SavedTemplate, Template, Values, Variable};
use switchboard_store::StoreError;

use crate::{Engine, EngineError, Result};

/// One recipient as a template sees them: the contact's name (`None` for a number that is no
/// contact's) and how they are shown (for the sentence naming them).
pub(crate) struct Person<'a> {
    pub contact_name: Option<&'a str>,
    pub display: &'a str,
}

impl Engine {
    /// Every template, by name.
    pub fn templates(&self) -> Result<Vec<SavedTemplate>> {
        Ok(self.store.list_templates()?)
    }

    /// Saves a template; a name taken (in any case) is refused, the saved one kept.
    pub fn add_template(&self, name: &str, text: &str) -> Result<SavedTemplate> {
        let name = templates::check_name(name)?;
        templates::check_text(text)?;
        match self.store.add_template(&name, text) {
            Err(StoreError::TemplateExists { name }) => Err(EngineError::TemplateExists { name }),
            Err(StoreError::Template(e)) => Err(e.into()),
            other => Ok(other?),
        }
    }

    pub fn remove_template(&self, id: TemplateId) -> Result<()> {
        match self.store.remove_template(id) {
            Err(StoreError::TemplateNotFound(_)) => Err(self.template_not_found(None)?),
            other => Ok(other?),
        }
    }

    /// The template a person named (in any case), or `template_not_found` naming the ones
    /// there are.
    pub fn template_named(&self, name: &str) -> Result<SavedTemplate> {
        match self.store.template_named(name)? {
            Some(t) => Ok(t),
            None => Err(self.template_not_found(Some(name.trim()))?),
        }
    }

    fn template_not_found(&self, name: Option<&str>) -> Result<EngineError> {
        Ok(EngineError::TemplateNotFound {
            name: name.map(str::to_owned),
            known: self.templates()?.into_iter().map(|t| t.name).collect(),
        })
    }
}

/// The template `text` filled for each person, in their order, from the line labelled `line`
/// (`None` while it is not chosen: then `{line}` is left for the pick and not a missing value).
/// Refused as `template_invalid` when the text does not parse, and as `template_missing_value`
/// naming every person who lacks a value.
pub(crate) fn fill_for(
    text: &str,
    people: &[Person<'_>],
    line: Option<&str>,
) -> Result<Vec<String>> {
    let template = Template::parse(text)?;
    let stand_in = Variable::Line.marker();
    let line = Some(line.unwrap_or(stand_in.as_str()));
    let values: Vec<Values<'_>> = people
        .iter()
        .map(|p| Values::for_recipient(p.contact_name, line))
        .collect();
    templates::fill_each(&template, &values).map_err(|missing| EngineError::TemplateMissing {
        missing: missing
            .iter()
            .map(|m| templates::missing_sentence(people[m.recipient].display, &m.variables))
            .collect(),
    })
}

/// What the composer shows while a template is being written: each person's text with a
/// missing value as its marker, and the sentence for those who lack one (`{line}` is not
/// missing while the line is still to be picked).
pub(crate) fn preview_for(
    template: &Template,
    people: &[Person<'_>],
    line: Option<&str>,
) -> (Vec<String>, Option<EngineError>) {
    let texts = people
        .iter()
        .map(|p| template.preview(&Values::for_recipient(p.contact_name, line)))
        .collect();
    let missing: Vec<String> = people
        .iter()
        .filter_map(|p| {
            let values = Values::for_recipient(p.contact_name, line);
            let lacking: Vec<Variable> = match template.fill(&values) {
                Ok(_) => return None,
                Err(v) => v
                    .into_iter()
                    .filter(|v| line.is_some() || *v != Variable::Line)
                    .collect(),
            };
            (!lacking.is_empty()).then(|| templates::missing_sentence(p.display, &lacking))
        })
        .collect();
    let problem = (!missing.is_empty()).then_some(EngineError::TemplateMissing { missing });
    (texts, problem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::engine;

    #[test]
    fn templates_are_added_listed_found_and_removed_with_errors_in_words() {
        let (_d, e) = engine();
        let order = e
            .add_template(
                "Order ready",
                "Hi {first_name}, your order is ready at {line}",
            )
            .unwrap();
        e.add_template("Closed", "We are closed today").unwrap();
        let names: Vec<String> = e.templates().unwrap().into_iter().map(|t| t.name).collect();
        assert_eq!(names, ["Closed", "Order ready"]);
        assert_eq!(e.template_named("order ready").unwrap(), order);

        let check = |got: EngineError, code: &str, sentence: &str| {
            assert_eq!(
                (got.code().as_str(), got.to_string().as_str()),
                (code, sentence)
            );
        };
        check(
            e.add_template("ORDER READY", "Another text").unwrap_err(),
            "template_exists",
            "A template called \u{201c}Order ready\u{201d} already exists: choose another name, \
             or remove that one first.",
        );
        check(
            e.add_template("Typo", "Hi {frist_name}").unwrap_err(),
            "template_invalid",
            "{frist_name} is not a template variable: use {first_name}, {name} or {line} (write \
             {{ or }} for a brace itself).",
        );
        check(
            e.add_template(" ", "Hi").unwrap_err(),
            "template_invalid",
            "Give the template a name.",
        );
        check(
            e.template_named("Opening hours").unwrap_err(),
            "template_not_found",
            "No template is called \u{201c}Opening hours\u{201d}. Your templates: Closed, Order \
             ready.",
        );
        e.remove_template(order.id).unwrap();
        check(
            e.remove_template(order.id).unwrap_err(),
            "template_not_found",
            "That template no longer exists. Your templates: Closed.",
        );
        assert_eq!(
            e.template_named("order ready").unwrap_err().kind(),
            crate::ErrorKind::NotFound
        );
    }

    #[test]
    fn filling_names_everyone_who_lacks_a_value() {
        let people = [
            Person {
                contact_name: Some("Ada Lovelace"),
                display: "Ada Lovelace",
            },
            Person {
                contact_name: None,
                display: "+1 415-555-0199",
            },
        ];
        let got = fill_for("Hi {first_name}", &people[..1], Some("Sales")).unwrap();
        assert_eq!(got, ["Hi Ada"]);
        let err = fill_for("Hi {first_name} from {line}", &people, Some("Sales")).unwrap_err();
        assert_eq!(err.code().as_str(), "template_missing_value");
        assert_eq!(
            err.to_string(),
            "+1 415-555-0199 has no first name for {first_name}. Add a name to the \
         contact, or take the variable out of the text."
        );
        // The line still to be picked is no missing value.
        assert_eq!(
            fill_for("From {line}", &people, None).unwrap(),
            ["From {line}", "From {line}"]
        );
    }
}
