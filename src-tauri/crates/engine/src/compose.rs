//! Composing: recipients typed as names or numbers become E.164 numbers, the draft is validated,
//! the sending line resolved (DESIGN.md's table, in core), and the fan-out enqueued in one
//! transaction. Replies go through the same path with the thread's line; a thread with a short
//! code or a sender name (verification codes) takes none, refused by core's composer as
//! `sender_cannot_receive` before anything is queued.

use serde::{Deserialize, Serialize};
use switchboard_core::composer::{self, Draft, ValidMessage};
use switchboard_core::model::{ContactId, ImageKind, Line, LineId, ThreadId, ThreadKey, E164};
use switchboard_core::phone::{self, PhoneError};
use switchboard_core::resolve::{self, PickReason, Resolution, ResolveInput, Why};
use switchboard_core::sms::{self, SmsCount};
use switchboard_core::templates::{costliest, Values};
use switchboard_core::{fanout, optout, schedule, threads};
use switchboard_store::{DraftKey, NewImage, NewOutgoing, ScheduledId};

use crate::images::{self, PreparedImage, DEFAULT_MMS_BUDGET};
use crate::templates::Person;
use crate::{now_ms, Engine, EngineError, Result};

/// What the composer holds when the user presses Send (or as they type, for a preview).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeRequest {
    /// Each a phone number as typed, or a contact's name.
    pub recipients: Vec<String>,
    pub body: String,
    /// Up to 10 image files, in the order they are sent; each checked by content, and the set
    /// fitted to the line's MMS budget (a set already fitted is sent as it is).
    #[serde(skip)]
    pub images: Vec<Vec<u8>>,
    /// The line the user picked, if any.
    pub line: Option<LineId>,
}

/// The composer as the user is filling it in, for [`Engine::live_preview`]. Its images were
/// checked and prepared when attached; the rules only need their kinds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ComposerState {
    pub recipients: Vec<String>,
    pub body: String,
    pub line: Option<LineId>,
    pub images: Vec<ImageKind>,
    /// The body is a template ("Hi {first_name}"), filled per recipient when sent.
    #[serde(default)]
    pub template: bool,
}

/// A recipient as resolved: the number messages go to, and the contact it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Recipient {
    pub number: E164,
    /// The contact's name, else the number formatted for display.
    pub display: String,
    pub contact_id: Option<ContactId>,
    pub default_line: Option<LineId>,
}

/// Which line the message will go from, or that the user must pick one first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LineDecision {
    /// The send button reads "Send from *line.label*".
    Use { line: Line, why: Why },
    /// Send opens the dropdown of `lines` and sends nothing.
    Pick {
        reason: PickReason,
        lines: Vec<Line>,
    },
}

/// Everything the composer shows before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Preview {
    pub recipients: Vec<Recipient>,
    pub sms: SmsCount,
    pub decision: LineDecision,
    /// What will be sent, in order (empty from [`Engine::live_preview`]).
    pub images: Vec<PreparedImage>,
    /// A contact to offer "make this line the default" for, after a pick.
    pub offer_default: Option<ContactId>,
    /// Why Send would be refused as things stand (only from [`Engine::live_preview`]).
    pub problem: Option<crate::ErrorBody>,
    /// The recipients who opted out of the sending line (they texted STOP): left out of the
    /// send, the others go.
    pub opted_out: Vec<OptedOut>,
    /// When the body is a template: the text the first recipient gets (a value they lack shown
    /// as its marker, and named in `problem`).
    pub filled: Option<String>,
}

/// A recipient the sending line can't text: they opted out of it (texted STOP), or the carrier
/// refused a message to them as opted out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct OptedOut {
    pub number: E164,
    /// The contact's name, else the number formatted for display.
    pub display: String,
    /// The line's label ("Sales").
    pub line: String,
    /// When, in ms since the epoch.
    pub since: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SentTo {
    pub recipient: Recipient,
    pub thread_id: ThreadId,
    pub message_id: switchboard_core::model::MessageId,
}

/// What a send did: one queued message per recipient, all from `line`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct SendReceipt {
    pub line: Line,
    pub sent: Vec<SentTo>,
    pub offer_default: Option<ContactId>,
    /// The recipients left out, for they opted out of the line.
    pub left_out: Vec<OptedOut>,
}

/// What scheduling did: one message per recipient waiting for `send_at`, all from `line`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ScheduleReceipt {
    pub line: Line,
    /// When they go, in ms since the epoch.
    pub send_at: i64,
    pub scheduled: Vec<ScheduledTo>,
    /// The recipients left out, for they opted out of the line.
    pub left_out: Vec<OptedOut>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct ScheduledTo {
    pub recipient: Recipient,
    pub id: ScheduledId,
}

struct Prepared {
    /// Those the message goes to (the opted-out left out).
    recipients: Vec<Recipient>,
    message: ValidMessage,
    /// Each recipient's own body, in their order, when the body was a template.
    bodies: Option<Vec<String>>,
    images: Vec<PreparedImage>,
    decision: LineDecision,
    offer_default: Option<ContactId>,
    opted_out: Vec<OptedOut>,
}

impl From<Prepared> for Preview {
    fn from(p: Prepared) -> Preview {
        Preview {
            recipients: p.recipients,
            sms: p.message.sms,
            decision: p.decision,
            images: p.images,
            offer_default: p.offer_default,
            problem: None,
            opted_out: p.opted_out,
            filled: p.bodies.and_then(|b| b.into_iter().next()),
        }
    }
}

impl Engine {
    /// Validates the request and tells which line it would go from; sends nothing.
    pub fn preview(&self, request: &ComposeRequest) -> Result<Preview> {
        let p = self.prepare(self.recipients(&request.recipients)?, request, None, false)?;
        Ok(p.into())
    }

    /// Like [`Engine::preview`] for a body that is a template: `filled` is the first
    /// recipient's text, and a recipient lacking a value is an error.
    pub fn preview_template(&self, request: &ComposeRequest) -> Result<Preview> {
        let p = self.prepare(self.recipients(&request.recipients)?, request, None, true)?;
        Ok(p.into())
    }

    /// The composer's view as the user types: like [`Engine::preview`], but a draft that cannot
    /// be sent yet (no recipient, nothing written, too long) is not an error: `problem` says
    /// why, and the counter and the sending line are still shown.
    pub fn live_preview(&self, state: &ComposerState) -> Result<Preview> {
        let recipients = self.recipients(&state.recipients)?;
        let checked = composer::validate(&Draft {
            recipients: recipients.iter().map(|r| r.number.clone()).collect(),
            body: state.body.clone(),
            images: state.images.clone(),
        });
        let (decision, offer_default) = self.decide(&recipients, state.line, None)?;
        let opted_out = self.opted_out(&recipients, &decision)?;
        let checked =
            checked.and_then(|m| self.check_line(&decision, state.images.len()).map(|()| m));
        if state.template {
            let everyone_out = !recipients.is_empty() && opted_out.len() == recipients.len();
            let line = match &decision {
                LineDecision::Use { line, .. } => line.label.clone(),
                LineDecision::Pick { .. } => String::new(),
            };
            let mut preview =
                self.live_template(state, recipients, checked, decision, offer_default);
            if everyone_out && preview.problem.is_none() {
                let names = opted_out.iter().map(|o| o.display.clone()).collect();
                preview.problem = Some(EngineError::OptedOut { names, line }.body());
            }
            preview.opted_out = opted_out;
            return Ok(preview);
        }
        let checked = checked.map_err(EngineError::Compose).and_then(|m| {
            let rest = self.leave_out(&m, &recipients, &opted_out, &decision)?;
            Ok(rest.1)
        });
        let (sms, problem) = match checked {
            Ok(message) => (message.sms, None),
            Err(e) => (switchboard_core::sms::count(&state.body), Some(e.body())),
        };
        Ok(Preview {
            recipients,
            sms,
            decision,
            images: Vec::new(),
            offer_default,
            problem,
            opted_out,
            filled: None,
        })
    }

    /// The live preview of a template: each recipient's text filled (a value they lack shown
    /// as its marker), the counter on the costliest one, the first one shown, and the first
    /// problem: the composer's rules, then the template's own, then the values lacking.
    fn live_template(
        &self,
        state: &ComposerState,
        recipients: Vec<Recipient>,
        checked: std::result::Result<ValidMessage, composer::ComposeError>,
        decision: LineDecision,
        offer_default: Option<ContactId>,
    ) -> Preview {
        let line = match &decision {
            LineDecision::Use { line, .. } => Some(line.label.clone()),
            LineDecision::Pick { .. } => None,
        };
        let people = people(&recipients);
        let (filled, sms, problem) = match switchboard_core::templates::Template::parse(&state.body)
        {
            Err(e) => (None, sms::count(&state.body), Some(EngineError::from(e))),
            Ok(template) => {
                let (mut texts, missing) =
                    crate::templates::preview_for(&template, &people, line.as_deref());
                if texts.is_empty() {
                    let alone = Values::for_recipient(None, line.as_deref());
                    texts.push(template.preview(&alone));
                }
                let sms = costliest(&texts);
                let too_long = too_long(&texts).map(EngineError::Compose);
                (texts.into_iter().next(), sms, missing.or(too_long))
            }
        };
        let problem = checked.err().map(EngineError::Compose).or(problem);
        Preview {
            recipients,
            sms,
            decision,
            images: Vec::new(),
            offer_default,
            problem: problem.map(|e| e.body()),
            filled,
            opted_out: Vec::new(),
        }
    }

    /// Enqueues one message per recipient in one transaction. When the user must pick a line
    /// first, answers `LinePickRequired` and writes nothing. `draft` is the composer state this
    /// send came from (the app's), cleared once the messages are queued; the CLI passes `None`
    /// and never touches the app's drafts.
    pub fn send(&self, request: &ComposeRequest, draft: Option<DraftKey>) -> Result<SendReceipt> {
        let p = self.prepare(self.recipients(&request.recipients)?, request, None, false)?;
        self.enqueue(p, draft)
    }

    /// Like [`Engine::send`], but the body is a template, filled for each recipient: each
    /// message its own text. A recipient lacking a value (a number with no contact has no
    /// first name) refuses the whole send before anything is queued, naming them.
    pub fn send_template(
        &self,
        request: &ComposeRequest,
        draft: Option<DraftKey>,
    ) -> Result<SendReceipt> {
        let p = self.prepare(self.recipients(&request.recipients)?, request, None, true)?;
        self.enqueue(p, draft)
    }

    /// Like [`Engine::send`], checked the same way, but the messages wait until `send_at` (ms
    /// since the epoch; core's `schedule::check_send_at`), kept across restarts, and go then
    /// exactly once — one found late by more than 15 minutes waits for the user to confirm.
    /// With `template`, the body is filled for each recipient now, as a send fills it.
    pub fn schedule(
        &self,
        request: &ComposeRequest,
        send_at: i64,
        draft: Option<DraftKey>,
        template: bool,
    ) -> Result<ScheduleReceipt> {
        schedule::check_send_at(send_at, now_ms())?;
        let p = self.prepare(
            self.recipients(&request.recipients)?,
            request,
            None,
            template,
        )?;
        let line = p.line()?;
        let items = p.items(line.id);
        let ids = self.store.schedule(&items, send_at, now_ms(), draft)?;
        tracing::info!(line = %line.id, recipients = ids.len(), "message scheduled");
        Ok(ScheduleReceipt {
            line,
            send_at,
            scheduled: p
                .recipients
                .into_iter()
                .zip(ids)
                .map(|(recipient, id)| ScheduledTo { recipient, id })
                .collect(),
            left_out: p.opted_out,
        })
    }

    /// Replies inside a thread: always from the thread's own line, to its counterpart (taken
    /// as stored, never re-parsed, so a number today's metadata does not know still works).
    pub fn reply(
        &self,
        thread: ThreadId,
        body: &str,
        images: Vec<Vec<u8>>,
        draft: Option<DraftKey>,
    ) -> Result<SendReceipt> {
        self.reply_as(thread, body, images, draft, false)
    }

    /// Like [`Engine::reply`], but `text` is a template filled for the thread's counterpart.
    pub fn reply_template(
        &self,
        thread: ThreadId,
        text: &str,
        images: Vec<Vec<u8>>,
        draft: Option<DraftKey>,
    ) -> Result<SendReceipt> {
        self.reply_as(thread, text, images, draft, true)
    }

    fn reply_as(
        &self,
        thread: ThreadId,
        body: &str,
        images: Vec<Vec<u8>>,
        draft: Option<DraftKey>,
        template: bool,
    ) -> Result<SendReceipt> {
        let summary = self.store.get_thread(thread)?;
        let request = ComposeRequest {
            recipients: Vec::new(),
            body: body.to_owned(),
            images,
            line: None,
        };
        let recipient = self.recipient_for(summary.counterpart)?;
        let p = self.prepare(vec![recipient], &request, Some(summary.line_id), template)?;
        self.enqueue(p, draft)
    }

    /// Each typed recipient resolved, duplicates (same number) kept once.
    fn recipients(&self, inputs: &[String]) -> Result<Vec<Recipient>> {
        let mut recipients: Vec<Recipient> = Vec::new();
        for input in inputs {
            let r = self.recipient(input)?;
            if !recipients.iter().any(|known| known.number == r.number) {
                recipients.push(r);
            }
        }
        Ok(recipients)
    }

    /// A recipient from what was typed: a valid number (with its contact, if any), or the name
    /// of a contact with a single number.
    pub fn recipient(&self, input: &str) -> Result<Recipient> {
        let input = input.trim();
        match phone::parse(input, self.default_country()?) {
            Ok(number) => Ok(self.recipient_for(number)?),
            Err(PhoneError::HasLetters) => self.recipient_by_name(input),
            Err(e) => Err(EngineError::phone(input, e)),
        }
    }

    fn recipient_for(&self, number: E164) -> Result<Recipient> {
        let contact = self.store.contact_by_number(&number)?;
        Ok(Recipient {
            display: threads::display_name(contact.as_ref().map(|c| c.name.as_str()), &number),
            contact_id: contact.as_ref().map(|c| c.id),
            default_line: contact.and_then(|c| c.default_line),
            number,
        })
    }

    fn recipient_by_name(&self, input: &str) -> Result<Recipient> {
        let matches = self.store.search_contacts(input, 20)?;
        let exact: Vec<_> = matches
            .iter()
            .filter(|c| c.name.eq_ignore_ascii_case(input))
            .collect();
        let contact = match (exact.as_slice(), matches.as_slice()) {
            ([one], _) => *one,
            ([], [one]) => one,
            ([], []) => {
                return Err(EngineError::UnknownRecipient {
                    input: input.to_owned(),
                })
            }
            ([], several) => return Err(ambiguous(input, several.iter())),
            (several, _) => return Err(ambiguous(input, several.iter().copied())),
        };
        match contact.numbers.as_slice() {
            [number] => Ok(Recipient {
                number: number.clone(),
                display: contact.name.clone(),
                contact_id: Some(contact.id),
                default_line: contact.default_line,
            }),
            numbers => Err(EngineError::AmbiguousRecipient {
                input: input.to_owned(),
                candidates: numbers.iter().map(phone::format_international).collect(),
            }),
        }
    }

    /// The sending line for these recipients (DESIGN.md's table), and whom to offer a new
    /// default line to.
    fn decide(
        &self,
        recipients: &[Recipient],
        chosen: Option<LineId>,
        reply_in: Option<LineId>,
    ) -> Result<(LineDecision, Option<ContactId>)> {
        // Only lines that can send now: in the connected account, with SMS.
        let lines: Vec<Line> = self
            .store
            .list_lines()?
            .into_iter()
            .filter(Line::can_send)
            .collect();
        let account_lines: Vec<LineId> = lines.iter().map(|l| l.id).collect();
        let defaults: Vec<Option<LineId>> = recipients.iter().map(|r| r.default_line).collect();
        let resolution = resolve::resolve_line(&ResolveInput {
            reply_in,
            account_lines: &account_lines,
            chosen,
            recipient_defaults: &defaults,
        })?;
        let contacts: Vec<_> = recipients
            .iter()
            .map(|r| (r.contact_id, r.default_line))
            .collect();
        let offer_default = resolve::offer_default(&contacts, &resolution);
        let decision =
            match resolution {
                Resolution::Use { line, why } => LineDecision::Use {
                    line: lines.iter().find(|l| l.id == line).cloned().ok_or(
                        EngineError::Store(switchboard_store::StoreError::LineNotFound(line)),
                    )?,
                    why,
                },
                Resolution::Pick { reason } => LineDecision::Pick { reason, lines },
            };
        Ok((decision, offer_default))
    }

    /// Whether the decided line can carry `images` (MMS, and a media host for the carrier).
    /// Decided by the engine, so that the composer and the CLI say the same thing.
    fn check_line(
        &self,
        decision: &LineDecision,
        images: usize,
    ) -> std::result::Result<(), composer::ComposeError> {
        let LineDecision::Use { line, .. } = decision else {
            return Ok(());
        };
        if images == 0 {
            return Ok(());
        }
        // A store that can't be read here fails the send a moment later with its own error.
        let hosted = self.images_hosted().unwrap_or(true);
        composer::check_image_line(images, &line.label, line.mms, hosted)
    }

    fn prepare(
        &self,
        recipients: Vec<Recipient>,
        request: &ComposeRequest,
        reply_in: Option<LineId>,
        template: bool,
    ) -> Result<Prepared> {
        let images = images::prepare_all(request.images.clone(), DEFAULT_MMS_BUDGET)?;
        let kinds: Vec<ImageKind> = images.iter().map(|i| i.kind).collect();
        let (message, decision, offer_default) =
            self.check(&recipients, &request.body, &kinds, request.line, reply_in)?;
        let opted_out = self.opted_out(&recipients, &decision)?;
        let (recipients, mut message) =
            self.leave_out(&message, &recipients, &opted_out, &decision)?;
        // Filled for those it goes to.
        let bodies = match template {
            false => None,
            true => Some(fill(&recipients, &request.body, &decision, &mut message)?),
        };
        Ok(Prepared {
            recipients,
            message,
            bodies,
            images,
            decision,
            offer_default,
            opted_out,
        })
    }

    /// The recipients who opted out of the decided line, in the order they were added (none
    /// while the line is still to be picked).
    fn opted_out(
        &self,
        recipients: &[Recipient],
        decision: &LineDecision,
    ) -> Result<Vec<OptedOut>> {
        let LineDecision::Use { line, .. } = decision else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for r in recipients {
            if let Some(o) = self.store.opt_out(line.id, &r.number)? {
                out.push(OptedOut {
                    number: r.number.clone(),
                    display: r.display.clone(),
                    line: line.label.clone(),
                    since: o.since,
                });
            }
        }
        Ok(out)
    }

    /// The message without the opted-out recipients (core's rule), refused as
    /// [`EngineError::OptedOut`] when nobody is left.
    fn leave_out(
        &self,
        message: &ValidMessage,
        recipients: &[Recipient],
        opted_out: &[OptedOut],
        decision: &LineDecision,
    ) -> Result<(Vec<Recipient>, ValidMessage)> {
        let numbers: Vec<E164> = opted_out.iter().map(|o| o.number.clone()).collect();
        match optout::leave_out(message, &numbers) {
            (Some(rest), _) => Ok((
                recipients
                    .iter()
                    .filter(|r| !numbers.contains(&r.number))
                    .cloned()
                    .collect(),
                rest,
            )),
            (None, _) => Err(EngineError::OptedOut {
                names: opted_out.iter().map(|o| o.display.clone()).collect(),
                line: match decision {
                    LineDecision::Use { line, .. } => line.label.clone(),
                    LineDecision::Pick { .. } => String::new(),
                },
            }),
        }
    }

    /// What decides whether a message can go: the composer's rules, the sending line
    /// (DESIGN.md's table; a thread's line must still be in the account and able to send),
    /// and that line's MMS and media host when there are images.
    fn check(
        &self,
        recipients: &[Recipient],
        body: &str,
        images: &[ImageKind],
        chosen: Option<LineId>,
        reply_in: Option<LineId>,
    ) -> Result<(ValidMessage, LineDecision, Option<ContactId>)> {
        let message = composer::validate(&Draft {
            recipients: recipients.iter().map(|r| r.number.clone()).collect(),
            body: body.to_owned(),
            images: images.to_vec(),
        })?;
        let (decision, offer_default) = self.decide(recipients, chosen, reply_in)?;
        self.check_line(&decision, images.len())?;
        Ok((message, decision, offer_default))
    }

    /// Whether `body` with images of these kinds could be sent as a reply in the thread `key`
    /// now, refused with the error [`Engine::reply`] would answer. A message sent again from
    /// its thread (see `runner/failed.rs`) is checked here.
    pub(crate) fn check_reply(
        &self,
        key: &ThreadKey,
        body: &str,
        images: &[ImageKind],
    ) -> Result<()> {
        let recipient = self.recipient_for(key.counterpart.clone())?;
        let recipients = [recipient];
        let (message, decision, _) = self.check(&recipients, body, images, None, Some(key.line))?;
        let opted_out = self.opted_out(&recipients, &decision)?;
        self.leave_out(&message, &recipients, &opted_out, &decision)
            .map(|_| ())
    }

    /// Queues the prepared messages; the composer's `draft` they came from, if any, is cleared
    /// in the same transaction.
    fn enqueue(&self, p: Prepared, draft: Option<DraftKey>) -> Result<SendReceipt> {
        let line = p.line()?;
        let items = p.items(line.id);
        let enqueued = match draft {
            Some(draft) => self
                .store
                .enqueue_outgoing_from_draft(&items, now_ms(), draft)?,
            None => self.store.enqueue_outgoing(&items, now_ms())?,
        };
        tracing::info!(
            line = %line.id,
            recipients = enqueued.len(),
            images = p.images.len(),
            "message enqueued"
        );
        Ok(SendReceipt {
            line,
            sent: p
                .recipients
                .into_iter()
                .zip(enqueued)
                .map(|(recipient, e)| SentTo {
                    recipient,
                    thread_id: e.thread_id,
                    message_id: e.message_id,
                })
                .collect(),
            offer_default: p.offer_default,
            left_out: p.opted_out,
        })
    }
}

impl Prepared {
    /// The decided line, or `LinePickRequired` when the user must pick one first.
    fn line(&self) -> Result<Line> {
        match &self.decision {
            LineDecision::Use { line, .. } => Ok(line.clone()),
            LineDecision::Pick { reason, lines } => Err(EngineError::LinePickRequired {
                reason: *reason,
                lines: lines.clone(),
            }),
        }
    }

    /// The fan-out: one message per recipient (each its own text when the body was a
    /// template), each with its own idempotency key.
    fn items(&self, line: LineId) -> Vec<NewOutgoing> {
        let planned = match &self.bodies {
            Some(bodies) => fanout::plan_each(line, &self.message, bodies),
            None => fanout::plan(line, &self.message),
        };
        planned
            .into_iter()
            .map(|out| NewOutgoing {
                key: out.key,
                body: out.body,
                images: self
                    .images
                    .iter()
                    .map(|i| NewImage {
                        kind: i.kind,
                        bytes: i.bytes.clone(),
                        width: i.width,
                        height: i.height,
                    })
                    .collect(),
                client_id: uuid::Uuid::new_v4().to_string(),
            })
            .collect()
    }
}

/// How a template sees the recipients: a contact's name, or none for a bare number (or for a
/// contact shown by its number, whose name is blank).
fn people(recipients: &[Recipient]) -> Vec<Person<'_>> {
    recipients
        .iter()
        .map(|r| Person {
            contact_name: r
                .contact_id
                .filter(|_| r.display != phone::format_international(&r.number))
                .map(|_| r.display.as_str()),
            display: &r.display,
        })
        .collect()
}

/// The template `text` filled for each recipient from the decided line (a pick still to come
/// leaves `{line}` for it: such a send is refused before anything is queued anyway); the
/// message then counts as its costliest body, and each body is within the composer's limit.
fn fill(
    recipients: &[Recipient],
    text: &str,
    decision: &LineDecision,
    message: &mut ValidMessage,
) -> Result<Vec<String>> {
    let line = match decision {
        LineDecision::Use { line, .. } => Some(line.label.as_str()),
        LineDecision::Pick { .. } => None,
    };
    let bodies = crate::templates::fill_for(text, &people(recipients), line)?;
    message.sms = costliest(&bodies);
    match too_long(&bodies) {
        Some(e) => Err(e.into()),
        None => Ok(bodies),
    }
}

/// The refusal of the longest body when one is over the composer's limit.
fn too_long(bodies: &[String]) -> Option<composer::ComposeError> {
    let chars = bodies.iter().map(|b| b.chars().count()).max()?;
    (chars > composer::MAX_BODY_CHARS).then_some(composer::ComposeError::BodyTooLong {
        chars,
        limit: composer::MAX_BODY_CHARS,
    })
}

fn ambiguous<'a>(
    input: &str,
    contacts: impl Iterator<Item = &'a switchboard_core::model::Contact>,
) -> EngineError {
    EngineError::AmbiguousRecipient {
        input: input.to_owned(),
        candidates: contacts.map(|c| c.name.clone()).collect(),
    }
}

#[cfg(test)]
#[path = "compose_templates_tests.rs"]
mod templates_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::engine;

    /// Two lines (Sales, Support) and contacts with and without defaults, as the seed describes.
    impl Engine {
        fn send_(&self, request: &ComposeRequest) -> Result<SendReceipt> {
            self.send(request, None)
        }
    }

    fn office() -> (tempfile::TempDir, Engine, Line, Line) {
        let (dir, e) = engine();
        let sales = e.add_line("+14155550100", "Sales", None).unwrap();
        let support = e.add_line("+14155550101", "Support", None).unwrap();
        e.add_contact("Ada Lovelace", &["+14155550142".into()], Some(sales.id))
            .unwrap();
        e.add_contact("Grace Hopper", &["+14155550143".into()], Some(sales.id))
            .unwrap();
        e.add_contact("Alan Turing", &["+14155550144".into()], Some(support.id))
            .unwrap();
        e.add_contact("Edsger Dijkstra", &["+14155550145".into()], None)
            .unwrap();
        (dir, e, sales, support)
    }

    fn request(recipients: &[&str], line: Option<LineId>) -> ComposeRequest {
        ComposeRequest {
            recipients: recipients.iter().map(|s| s.to_string()).collect(),
            body: "Your order has shipped".into(),
            images: Vec::new(),
            line,
        }
    }

    fn state(recipients: &[&str], body: &str) -> ComposerState {
        ComposerState {
            recipients: recipients.iter().map(|s| s.to_string()).collect(),
            body: body.into(),
            line: None,
            images: Vec::new(),
            template: false,
        }
    }

    /// What the send button would show: `Ok(label)` or `Err(reason)` when a pick is needed.
    fn decision(e: &Engine, recipients: &[&str], line: Option<LineId>) -> Result<String, String> {
        match e.preview(&request(recipients, line)).unwrap().decision {
            LineDecision::Use { line, .. } => Ok(line.label),
            LineDecision::Pick { reason, lines } => {
                assert_eq!(lines.len(), 2);
                Err(format!("{reason:?}"))
            }
        }
    }

    #[test]
    fn the_send_button_follows_the_seed() {
        let (_d, e, sales, support) = office();
        let check = |recipients: &[&str], line: Option<LineId>, expected: Result<&str, &str>| {
            let got = decision(&e, recipients, line);
            assert_eq!(
                got.as_deref().map_err(|s| s.as_str()),
                expected,
                "{recipients:?} {line:?}"
            );
        };
        check(&["Ada Lovelace"], None, Ok("Sales"));
        check(&["Ada Lovelace", "Grace Hopper"], None, Ok("Sales"));
        check(
            &["Ada Lovelace", "Alan Turing"],
            None,
            Err("DefaultsDiffer"),
        );
        check(&["Edsger Dijkstra"], None, Err("NoDefault"));
        check(&["+1 415 555 0199"], None, Err("NoDefault"));
        check(&["Edsger Dijkstra"], Some(support.id), Ok("Support"));
        check(&["Ada Lovelace"], Some(support.id), Ok("Support"));
        check(
            &["ada lovelace", "+14155550142"],
            Some(sales.id),
            Ok("Sales"),
        );
    }

    #[test]
    fn the_live_preview_counts_and_resolves_before_the_draft_is_sendable() {
        let (_d, e, _sales, _support) = office();
        let check =
            |recipients: &[&str], body: &str, problem: Option<&str>, label: Option<&str>| {
                let p = e.live_preview(&state(recipients, body)).unwrap();
                assert_eq!(
                    p.problem.map(|b| b.code.as_str()),
                    problem,
                    "{recipients:?} {body:?}"
                );
                let shown = match p.decision {
                    LineDecision::Use { line, .. } => Some(line.label),
                    LineDecision::Pick { .. } => None,
                };
                assert_eq!(shown.as_deref(), label);
                assert_eq!(p.sms.chars, body.chars().count());
            };
        check(&[], "Hello", Some("no_recipients"), None);
        check(&["Ada Lovelace"], "", Some("empty_message"), Some("Sales"));
        check(
            &["Ada Lovelace"],
            &"x".repeat(1601),
            Some("body_too_long"),
            Some("Sales"),
        );
        check(&["Ada Lovelace", "Alan Turing"], "Hi", None, None);
        check(&["Ada Lovelace"], "Hi", None, Some("Sales"));
        // A recipient that is not a number nor a contact is still an error: chips are checked.
        assert_eq!(
            e.live_preview(&state(&["Nobody Known"], "Hi"))
                .unwrap_err()
                .code()
                .as_str(),
            "unknown_recipient"
        );
    }

    #[test]
    fn a_pick_sends_nothing_until_a_line_is_chosen() {
        let (_d, e, _sales, support) = office();
        let three = ["Ada Lovelace", "Alan Turing", "Edsger Dijkstra"];
        let err = e.send_(&request(&three, None)).unwrap_err();
        assert_eq!(err.code().as_str(), "line_pick_required");
        assert!(err.to_string().contains("Sales"), "{err}");
        assert!(e.outbox().unwrap().is_empty());
        assert!(e.threads(None, 50, None).unwrap().is_empty());

        let receipt = e.send_(&request(&three, Some(support.id))).unwrap();
        assert_eq!(receipt.line.label, "Support");
        assert_eq!(receipt.sent.len(), 3);
        assert_eq!(e.outbox().unwrap().len(), 3);
        let threads = e.threads(None, 50, None).unwrap();
        assert_eq!(threads.len(), 3);
        assert!(threads.iter().all(|t| t.line.label == "Support"));
    }

    #[test]
    fn one_thread_per_line_and_number() {
        let (_d, e, sales, support) = office();
        let first = e.send_(&request(&["Ada Lovelace"], None)).unwrap();
        let again = e.send_(&request(&["Ada Lovelace"], None)).unwrap();
        assert_eq!(
            first.sent[0].thread_id, again.sent[0].thread_id,
            "existing thread reused"
        );
        let other = e
            .send_(&request(&["Ada Lovelace"], Some(support.id)))
            .unwrap();
        assert_ne!(
            first.sent[0].thread_id, other.sent[0].thread_id,
            "another line, another thread"
        );
        let threads = e.threads(None, 50, None).unwrap();
        assert_eq!(threads.len(), 2);
        assert_eq!(
            threads[0].line.id, support.id,
            "the newest activity is on top"
        );
        assert_eq!(e.threads(Some(sales.id), 50, None).unwrap().len(), 1);
        assert_eq!(
            e.thread(first.sent[0].thread_id, 100, None)
                .unwrap()
                .messages
                .len(),
            2
        );
    }

    #[test]
    fn a_reply_uses_the_threads_line() {
        let (_d, e, _sales, support) = office();
        let sent = e
            .send_(&request(&["Ada Lovelace"], Some(support.id)))
            .unwrap();
        let thread = sent.sent[0].thread_id;
        let reply = e
            .reply(thread, "And a follow-up", Vec::new(), None)
            .unwrap();
        assert_eq!(reply.line.id, support.id);
        assert_eq!(reply.sent[0].thread_id, thread);
    }

    #[test]
    fn a_short_code_or_a_sender_name_cannot_be_replied_to() {
        let (_d, e, sales, _support) = office();
        for (sid, sender) in [("SM1", "89363"), ("SM2", "GOOGLE")] {
            let key = switchboard_core::model::ThreadKey {
                line: sales.id,
                counterpart: E164::from_sender(sender).unwrap(),
            };
            let thread = e
                .store
                .insert_inbound(&key, "Your code is 123456", sid, 1_700_000_000_000, None)
                .unwrap()
                .thread_id;
            let draft = DraftKey::Thread(thread);
            e.save_draft(draft, r#"{"body":"Thanks"}"#).unwrap();

            let refused = e
                .reply(thread, "Thanks", Vec::new(), Some(draft))
                .unwrap_err();

            let sentence = "Verification codes and short codes can't be replied to.";
            assert_eq!(
                (refused.code().as_str(), refused.to_string().as_str()),
                ("sender_cannot_receive", sentence),
                "{sender}"
            );
            assert!(e.outbox().unwrap().is_empty(), "nothing queued");
            assert!(e.load_draft(draft).unwrap().is_some(), "the draft is kept");
            let shown = e.thread(thread, 10, None).unwrap().thread;
            assert_eq!(shown.display, sender);
            assert_eq!(
                shown.cannot_reply.map(|b| b.message).as_deref(),
                Some(sentence),
                "the reply box gives way to the reason"
            );
        }
        let ada = e.send_(&request(&["Ada Lovelace"], None)).unwrap();
        let shown = e.thread(ada.sent[0].thread_id, 10, None).unwrap().thread;
        assert_eq!(shown.cannot_reply, None);
    }

    #[test]
    fn twenty_recipients_go_individually_and_a_21st_is_refused() {
        let (_d, e, sales, _support) = office();
        let numbers: Vec<String> = (0..21).map(|i| format!("+1415555{:04}", 200 + i)).collect();
        let twenty: Vec<&str> = numbers[..20].iter().map(String::as_str).collect();
        let receipt = e.send_(&request(&twenty, Some(sales.id))).unwrap();
        assert_eq!(receipt.sent.len(), 20);
        let threads: std::collections::HashSet<_> =
            receipt.sent.iter().map(|s| s.thread_id).collect();
        assert_eq!(
            threads.len(),
            20,
            "each recipient has a thread of their own"
        );

        let all: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let err = e.send_(&request(&all, Some(sales.id))).unwrap_err();
        assert_eq!(err.code().as_str(), "too_many_recipients");
        assert_eq!(
            e.outbox().unwrap().len(),
            20,
            "the refused send wrote nothing"
        );
    }

    #[test]
    fn recipients_are_found_by_name_or_number() {
        let (_d, e, _sales, _support) = office();
        let check = |input: &str, expected: Result<&str, &str>| {
            let got = e.recipient(input);
            match (got, expected) {
                (Ok(r), Ok(number)) => assert_eq!(r.number.as_str(), number, "{input}"),
                (Err(err), Err(code)) => assert_eq!(err.code().as_str(), code, "{input}"),
                (got, expected) => panic!("{input}: {got:?}, expected {expected:?}"),
            }
        };
        check("Ada Lovelace", Ok("+14155550142"));
        check("grace hopper", Ok("+14155550143"));
        check("(415) 555-0199", Ok("+14155550199"));
        check("Nobody Here", Err("unknown_recipient"));
        check("12", Err("number_too_short"));
    }

    #[test]
    fn an_image_alone_is_a_message_and_a_fake_one_is_refused() {
        let (_d, e, sales, _support) = office();
        let mut req = request(&["Ada Lovelace"], Some(sales.id));
        req.body = String::new();
        req.images = vec![crate::images::tests::noisy_png(20, 20)];
        let receipt = e.send_(&req).unwrap();
        let msg = e
            .thread(receipt.sent[0].thread_id, 10, None)
            .unwrap()
            .messages;
        assert!(msg[0].has_attachment);

        req.images = vec![b"not really a png".to_vec()];
        assert_eq!(e.send_(&req).unwrap_err().code().as_str(), "not_an_image");
        assert_eq!(e.outbox().unwrap().len(), 1);
    }

    #[test]
    fn sending_clears_the_composer_draft() {
        let (_d, e, _sales, _support) = office();
        e.save_draft(DraftKey::Composer, r#"{"body":"half-written"}"#)
            .unwrap();
        e.save_draft(DraftKey::Thread(ThreadId(1)), r#"{"body":"a reply"}"#)
            .unwrap();
        e.send(&request(&["Ada Lovelace"], None), Some(DraftKey::Composer))
            .unwrap();
        assert_eq!(e.load_draft(DraftKey::Composer).unwrap(), None);
        assert!(e
            .load_draft(DraftKey::Thread(ThreadId(1)))
            .unwrap()
            .is_some());
    }

    /// A draft with text and two images under `key`.
    fn draft_with_images(e: &Engine, key: DraftKey) {
        use crate::images::tests::noisy_png;
        e.save_draft(key, r#"{"body":"see attached","images":2}"#)
            .unwrap();
        let files = [noisy_png(16, 16), noisy_png(24, 8)].map(|bytes| crate::DraftImageFile {
            bytes,
            resized: false,
        });
        e.save_draft_images(key, files.to_vec()).unwrap();
    }

    #[test]
    fn sending_clears_the_composer_drafts_images_too() {
        let (_d, e, _sales, _support) = office();
        draft_with_images(&e, DraftKey::Composer);
        draft_with_images(&e, DraftKey::Thread(ThreadId(1)));
        e.send(&request(&["Ada Lovelace"], None), Some(DraftKey::Composer))
            .unwrap();
        assert!(e.draft_images(DraftKey::Composer).unwrap().is_empty());
        assert_eq!(
            e.draft_images(DraftKey::Thread(ThreadId(1))).unwrap().len(),
            2,
            "another draft's images are left alone"
        );
    }

    #[test]
    fn a_reply_clears_its_drafts_images_and_a_refused_one_keeps_them() {
        let (_d, e, sales, _support) = office();
        let first = e
            .send_(&request(&["Ada Lovelace"], Some(sales.id)))
            .unwrap();
        let thread = first.sent[0].thread_id;
        let key = DraftKey::Thread(thread);
        draft_with_images(&e, key);

        let eleven = vec![crate::images::tests::noisy_png(8, 8); 11];
        e.reply(thread, "Too many", eleven, Some(key)).unwrap_err();
        assert_eq!(e.draft_images(key).unwrap().len(), 2, "nothing was sent");

        e.reply(thread, "see attached", Vec::new(), Some(key))
            .unwrap();
        assert_eq!(e.load_draft(key).unwrap(), None);
        assert!(e.draft_images(key).unwrap().is_empty());
    }

    #[test]
    fn a_send_without_a_draft_key_leaves_the_apps_draft_alone() {
        let (_d, e, _sales, _support) = office();
        e.save_draft(DraftKey::Composer, r#"{"body":"half-written"}"#)
            .unwrap();
        e.send_(&request(&["Ada Lovelace"], None)).unwrap();
        assert!(e.load_draft(DraftKey::Composer).unwrap().is_some());
    }

    /// Three distinct images: two PNGs of different sizes and one bigger.
    fn three_images() -> Vec<Vec<u8>> {
        use crate::images::tests::noisy_png;
        vec![noisy_png(20, 20), noisy_png(30, 10), noisy_png(12, 40)]
    }

    /// The stored images of `message`, in their order: what the outbox sends.
    fn stored(e: &Engine, message: switchboard_core::model::MessageId) -> Vec<Vec<u8>> {
        let items = e.store.attachments(message).unwrap();
        let indexes: Vec<u8> = items.iter().map(|a| a.index).collect();
        assert_eq!(indexes, (0..items.len() as u8).collect::<Vec<_>>());
        items.into_iter().map(|a| a.bytes).collect()
    }

    #[test]
    fn three_images_go_in_one_message_per_recipient_in_their_order() {
        let (_d, e, sales, _support) = office();
        let mut req = request(&["Ada Lovelace", "Grace Hopper"], Some(sales.id));
        req.images = three_images();
        let preview = e.preview(&req).unwrap();
        let previewed: Vec<Vec<u8>> = preview.images.iter().map(|i| i.bytes.clone()).collect();
        assert_eq!(previewed, req.images);

        let receipt = e.send_(&req).unwrap();
        assert_eq!(receipt.sent.len(), 2);
        for sent in &receipt.sent {
            assert_eq!(
                stored(&e, sent.message_id),
                req.images,
                "{:?}",
                sent.recipient
            );
            let shown = e.thread(sent.thread_id, 10, None).unwrap().messages;
            assert_eq!(shown[0].attachments.len(), 3);
        }
        assert_eq!(
            e.outbox().unwrap().len(),
            2,
            "one job per recipient, not per image"
        );
    }

    #[test]
    fn a_reply_carries_several_images_and_an_eleventh_is_refused_with_nothing_queued() {
        let (_d, e, sales, _support) = office();
        let first = e
            .send_(&request(&["Ada Lovelace"], Some(sales.id)))
            .unwrap();
        let thread = first.sent[0].thread_id;
        let reply = e.reply(thread, "", three_images(), None).unwrap();
        assert_eq!(stored(&e, reply.sent[0].message_id), three_images());

        let eleven = vec![crate::images::tests::noisy_png(8, 8); 11];
        let refused = e.reply(thread, "Too many", eleven, None).unwrap_err();
        assert_eq!(
            (refused.code().as_str(), refused.to_string().as_str()),
            ("too_many_images", "A message can carry up to 10 images.")
        );
        assert_eq!(
            e.outbox().unwrap().len(),
            2,
            "the refused reply queued nothing"
        );
    }

    #[test]
    fn a_fake_among_the_images_refuses_the_whole_message_naming_the_file() {
        let (_d, e, sales, _support) = office();
        let mut req = request(&["Ada Lovelace"], Some(sales.id));
        req.images = three_images();
        req.images[1] = b"%PDF-1.4 an invoice".to_vec();
        let refused = e.send_(&req).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "The 2nd file is not a JPEG, PNG or GIF image."
        );
        assert!(e.outbox().unwrap().is_empty());
    }

    #[test]
    fn the_live_preview_says_when_the_line_cannot_take_the_images() {
        let (_d, e, sales, support) = office();
        let account_line = |line: &Line, mms: bool| switchboard_store::AccountLine {
            number: line.number.clone(),
            label: line.label.clone(),
            carrier_sid: None,
            sms: true,
            mms,
        };
        let fax = Line {
            number: E164::from_normalized("+14155550109").unwrap(),
            number_display: "+1 415-555-0109".into(),
            label: "Fax".into(),
            ..sales.clone()
        };
        let listed = [
            account_line(&sales, true),
            account_line(&support, true),
            account_line(&fax, false),
        ];
        e.store.adopt_lines(&listed, &|_| "#3366cc".into()).unwrap();
        let fax = e
            .store
            .list_lines()
            .unwrap()
            .into_iter()
            .find(|l| l.label == "Fax")
            .unwrap();
        let check = |images: usize, line: LineId, expected: Option<&str>| {
            let mut s = state(&["Ada Lovelace"], "Hi");
            s.line = Some(line);
            s.images = vec![ImageKind::Png; images];
            let problem = e.live_preview(&s).unwrap().problem;
            assert_eq!(
                problem.map(|b| b.code.as_str()),
                expected,
                "{images} on {line:?}"
            );
        };
        check(0, fax.id, None);
        check(1, fax.id, Some("line_has_no_mms"));
        check(3, fax.id, Some("line_has_no_mms"));
        check(11, sales.id, Some("too_many_images"));
    }
}
