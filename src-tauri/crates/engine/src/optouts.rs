//! Who has opted out of which line: what `switchboard-cli optouts` lists. The rules are core's
//! (`optout`), the record the store's (learnt from the messages the sync records and from the
//! carrier's 21610 refusals); the composer leaves opted-out recipients out (`compose`) and the
//! runner never sends to them (`runner/attempt.rs`).

use serde::{Deserialize, Serialize};
use switchboard_core::model::{LineId, E164};
use switchboard_core::optout::Scope;
use switchboard_core::threads::display_name;
use switchboard_store::OptOutSource;

use crate::{Engine, Result};

/// One opted-out number and the lines it can't be texted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptOutEntry {
    pub number: E164,
    /// The contact's name, else the number formatted.
    pub display: String,
    /// The labels of the lines it covers: one, or every line of a Messaging Service.
    pub lines: Vec<String>,
    /// The Messaging Service (`MG…`) when the opt-out covers one.
    pub messaging_service: Option<String>,
    /// When, in ms since the epoch.
    pub since: i64,
    /// How it became known: `keyword` (they texted STOP) or `carrier` (a send was refused).
    pub source: OptOutSource,
}

impl Engine {
    /// Every number opted out now, newest first; with `line`, those who can't be texted from it.
    pub fn opt_outs(&self, line: Option<LineId>) -> Result<Vec<OptOutEntry>> {
        let lines = self.store.list_lines()?;
        let mut services = Vec::with_capacity(lines.len());
        for l in &lines {
            services.push(self.store.line_messaging_service(l.id)?);
        }
        let mut entries = Vec::new();
        for o in self.store.list_opt_outs()? {
            let covered: Vec<usize> = (0..lines.len())
                .filter(|&i| o.scope.blocks(lines[i].id, services[i].as_deref()))
                .collect();
            if line.is_some_and(|want| !covered.iter().any(|&i| lines[i].id == want)) {
                continue;
            }
            let contact = self.store.contact_by_number(&o.number)?;
            entries.push(OptOutEntry {
                display: display_name(contact.as_ref().map(|c| c.name.as_str()), &o.number),
                number: o.number,
                lines: covered.iter().map(|&i| lines[i].label.clone()).collect(),
                messaging_service: match o.scope {
                    Scope::Service(sid) => Some(sid),
                    Scope::Line(_) => None,
                },
                since: o.since,
                source: o.source,
            });
        }
        Ok(entries)
    }
}
