//! A busy day on demand (`sandbox flood N`): N messages spread over the 24 hours before now,
//! in and out on every line the account has, to and from many customers, about one in ten an
//! MMS whose image can really be fetched. It is history, not news: the messages are listed at
//! once (no lag applies), outbound ones are already delivered, and nothing counts as sent
//! through the API (`received_count` stays). The state is saved once for the whole flood, so a
//! hundred thousand messages take a moment, not a save each.

use std::time::Instant;

use rand::Rng;
use serde::{Deserialize, Serialize};
use switchboard_carrier::CarrierStatus;
use switchboard_core::model::E164;

use crate::quirks::whole_second;
use crate::state::{MessageMedia, SandboxMessage, StoredMedia};
use crate::{new_sid, SandboxError, Shared};

/// The most messages one flood makes.
pub const MAX_FLOOD: u32 = 100_000;

/// The image every flooded MMS carries (32×32 PNG), stored with the sandbox's media.
const IMAGE: &[u8] = include_bytes!("flood.png");
const DAY_MS: i64 = 86_400_000;
/// Customers write from +1 415 555 2000 … 9999, clear of the demo lines and contacts.
const FIRST_CUSTOMER: u32 = 2000;
const CUSTOMERS_MAX: u32 = 8000;

const INBOUND: &[&str] = &[
    "Hi, is my order ready?",
    "Can we move it to 3pm?",
    "Thanks!",
    "OK, see you at 3",
    "What time do you open tomorrow?",
    "Is parking available nearby?",
    "I'll be 10 minutes late, sorry",
    "Do you have it in blue?",
    "Yes please",
    "Who is this?",
];
const OUTBOUND: &[&str] = &[
    "Your order is ready for pickup.",
    "Your appointment is confirmed for tomorrow at 10.",
    "Thanks for your message, we'll get back to you shortly.",
    "OK, see you at 3",
    "We open at 9 tomorrow.",
    "Here is the photo you asked for.",
    "Reminder: your delivery arrives today between 2 and 4.",
    "Sure, no problem!",
];

/// What a flood made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flooded {
    pub created: u32,
    pub inbound: u32,
    pub outbound: u32,
    pub mms: u32,
    /// Distinct customer numbers the messages are from or to.
    pub customers: u32,
    /// Every message the carrier holds now.
    pub messages: usize,
    /// How long it took, saving included.
    pub elapsed_ms: u64,
}

pub(crate) fn flood(shared: &Shared, count: u32) -> Result<Flooded, SandboxError> {
    let started = Instant::now();
    if count == 0 || count > MAX_FLOOD {
        return Err(SandboxError::FloodSize { asked: count });
    }
    let lines: Vec<E164> = shared.store.read(|s| {
        s.lines
            .iter()
            .filter(|l| l.sms)
            .map(|l| l.number.clone())
            .collect()
    });
    if lines.is_empty() {
        return Err(SandboxError::NoLines);
    }
    let image_id = new_sid("ME");
    let image_path = shared.store.media_path(&image_id);
    std::fs::write(&image_path, IMAGE).map_err(|source| SandboxError::Io {
        action: "write",
        path: image_path,
        source,
    })?;
    let image_url = format!("{}/_sandbox/media/{image_id}", shared.api_base_url());

    let customers: Vec<E164> = (0..(count / 4).clamp(1, CUSTOMERS_MAX))
        .map(|i| {
            E164::from_normalized(&format!("+1415555{:04}", FIRST_CUSTOMER + i))
                .expect("customer numbers are E.164")
        })
        .collect();
    let now = shared.now_ms();
    let mut rng = rand::thread_rng();
    // At least a second ago, so that a delivered message was sent before now.
    let mut times: Vec<i64> = (0..count)
        .map(|_| whole_second(now - rng.gen_range(1000..=DAY_MS)))
        .collect();
    times.sort_unstable();

    let (mut inbound, mut mms) = (0, 0);
    let mut used = vec![false; customers.len()];
    let messages = shared.store.update(|s| {
        s.media.push(StoredMedia {
            id: image_id,
            content_type: "image/png".into(),
        });
        let mut made = Vec::with_capacity(times.len());
        for (i, &at) in times.iter().enumerate() {
            let line = lines[rng.gen_range(0..lines.len())].clone();
            let who = rng.gen_range(0..customers.len());
            used[who] = true;
            let customer = customers[who].clone();
            let is_mms = i % 10 == 9;
            // MMS alternate, from a customer first: a flood of ten or more has a customer's
            // photo, every time.
            let is_inbound = if is_mms {
                i % 20 == 9
            } else {
                rng.gen_bool(0.5)
            };
            let body = if is_inbound {
                INBOUND[rng.gen_range(0..INBOUND.len())]
            } else {
                OUTBOUND[rng.gen_range(0..OUTBOUND.len())]
            };
            // Some customers send a photo without a word.
            let body = if is_mms && is_inbound && i % 40 == 9 {
                ""
            } else {
                body
            };
            let media = if is_mms {
                vec![MessageMedia {
                    sid: new_sid("ME"),
                    url: image_url.clone(),
                    content_type: "image/png".into(),
                }]
            } else {
                Vec::new()
            };
            inbound += u32::from(is_inbound);
            mms += u32::from(is_mms);
            let (from, to) = if is_inbound {
                (customer, line)
            } else {
                (line, customer)
            };
            made.push(SandboxMessage {
                sid: new_sid(if is_mms { "MM" } else { "SM" }),
                from,
                to,
                body: body.to_owned(),
                inbound: is_inbound,
                status: if is_inbound {
                    CarrierStatus::Received
                } else {
                    CarrierStatus::Delivered
                },
                created_at: at,
                updated_at: if is_inbound { at } else { (at + 2000).min(now) },
                sent_at: Some(if is_inbound { at } else { at + 1000 }),
                error_code: None,
                error_message: None,
                media,
                auto_reply: false,
                seq: s.take_seq(),
                arrived: None,
            });
        }
        s.insert_messages(made);
        s.messages.len()
    })?;
    let flooded = Flooded {
        created: count,
        inbound,
        outbound: count - inbound,
        mms,
        customers: used.iter().filter(|u| **u).count() as u32,
        messages,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    tracing::info!(
        created = flooded.created,
        messages = flooded.messages,
        elapsed_ms = flooded.elapsed_ms,
        "sandbox flooded"
    );
    Ok(flooded)
}
