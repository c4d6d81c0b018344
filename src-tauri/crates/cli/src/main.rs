//! switchboard-cli: Switchboard from the command line, for people who script and for support.
//! It translates arguments into engine calls and the answers into text or JSON; every rule
//! lives in the engine and the core.

mod args;
mod attachment;
mod live;
mod local_time;
mod names;
mod output;

use std::io::Read;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;
use switchboard_engine::core::model::{MessageId, ThreadId};
use switchboard_engine::core::triage::View;
use switchboard_engine::core::when;
use switchboard_engine::store::{now_ms, ScheduledId};
use switchboard_engine::{
    ComposeRequest, ContactEdit, DefaultLineEdit, Engine, EngineError, ErrorKind, ImportFormat,
    KeyChoice, LineDecision, RunnerError, SettingChange,
};

use args::{Cli, Command, ContactsCmd, LinesCmd, MediaCmd, OutboxCmd, SettingsCmd, TemplatesCmd};
use output::Out;

/// Exit codes, documented in `--help`.
mod exit {
    pub const INVALID_INPUT: u8 = 3;
    pub const UNAVAILABLE: u8 = 7;
    pub const LINE_PICK_REQUIRED: u8 = 4;
    pub const NOT_FOUND: u8 = 5;
    pub const STORE: u8 = 6;
    pub const INTERNAL: u8 = 1;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Under --json even a command line clap refuses is answered with one JSON document.
        Err(e) if e.use_stderr() && std::env::args().any(|a| a == "--json") => {
            let message = e
                .kind()
                .as_str()
                .map_or_else(|| e.to_string(), str::to_owned);
            Out { json: true }.error("usage", &message, None);
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHBOARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let out = Out { json: cli.json };
    match run(&cli, &out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            out.error(&failure.code, &failure.message, failure.details);
            ExitCode::from(failure.exit)
        }
    }
}

/// A failure as the CLI reports it.
struct Failure {
    code: String,
    message: String,
    details: Option<serde_json::Value>,
    exit: u8,
}

impl From<RunnerError> for Failure {
    fn from(e: RunnerError) -> Failure {
        match e {
            RunnerError::Engine(e) => e.into(),
            // Another process sends from this data directory, or its lock can't be taken.
            other => {
                let body = other.body();
                Failure {
                    code: body.code.as_str().to_owned(),
                    message: body.message,
                    details: None,
                    exit: exit::STORE,
                }
            }
        }
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Failure {
        let details = match &e {
            EngineError::LinePickRequired { lines, .. } => Some(json!({ "lines": lines })),
            _ => None,
        };
        let exit = match e.kind() {
            ErrorKind::InvalidInput => exit::INVALID_INPUT,
            ErrorKind::NeedsChoice => exit::LINE_PICK_REQUIRED,
            ErrorKind::NotFound => exit::NOT_FOUND,
            ErrorKind::Unavailable => exit::UNAVAILABLE,
            ErrorKind::Store => exit::STORE,
            ErrorKind::Internal => exit::INTERNAL,
        };
        let mut message = e.to_string();
        if details.is_some() {
            message.push_str(" Choose with --line LABEL.");
        }
        Failure {
            code: e.code().as_str().to_owned(),
            message,
            details,
            exit,
        }
    }
}

pub(crate) fn file_error(path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure {
        code: "file_unreadable".into(),
        message: format!("{} cannot be read: {e}.", path.display()),
        details: None,
        exit: exit::INVALID_INPUT,
    }
}

/// Reads a file given on the command line, refusing one larger than any attachment may be
/// before reading it whole (`/dev/zero` never ends).
/// The `--image` files, in the order given; an 11th is refused before any is read.
fn read_images(paths: &[std::path::PathBuf]) -> Result<Vec<Vec<u8>>, Failure> {
    switchboard_engine::core::composer::check_image_count(paths.len())
        .map_err(EngineError::from)?;
    paths.iter().map(|p| read_file(p)).collect()
}

fn read_file(path: &std::path::Path) -> Result<Vec<u8>, Failure> {
    let limit = switchboard_engine::core::media::MAX_ATTACHMENT_BYTES;
    let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| file_error(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(Failure {
            code: "file_too_large".into(),
            message: format!(
                "{} is larger than 25 MB, the most a file may be.",
                path.display()
            ),
            details: None,
            exit: exit::INVALID_INPUT,
        });
    }
    Ok(bytes)
}

fn read_text(path: &std::path::Path) -> Result<String, Failure> {
    let bytes = read_file(path)?;
    String::from_utf8(bytes).map_err(|_| Failure {
        code: "file_not_text".into(),
        message: format!("{} is not UTF-8 text.", path.display()),
        details: None,
        exit: exit::INVALID_INPUT,
    })
}

fn data_dir(cli: &Cli) -> Result<std::path::PathBuf, Failure> {
    match &cli.data_dir {
        Some(d) => Ok(d.clone()),
        // The app's folder (src-tauri/src/lib.rs): %LOCALAPPDATA%\switchboard on Windows.
        None => dirs::data_local_dir()
            .map(|d| d.join("switchboard"))
            .ok_or_else(|| Failure {
                code: "no_data_dir".into(),
                message: "No data directory could be found: pass --data-dir.".into(),
                details: None,
                exit: exit::STORE,
            }),
    }
}

fn open(cli: &Cli) -> Result<Engine, Failure> {
    let data_dir = data_dir(cli)?;
    let key = match (&cli.key_file, std::env::var("SWITCHBOARD_PASSPHRASE")) {
        (Some(path), _) => KeyChoice::KeyFile(path.clone()),
        (None, Ok(p)) => KeyChoice::Passphrase(p),
        (None, Err(_)) => KeyChoice::Keychain,
    };
    Ok(Engine::open(&data_dir, key)?)
}

fn run(cli: &Cli, out: &Out) -> Result<(), Failure> {
    match &cli.command {
        Command::Sandbox { cmd } => return live::sandbox(&data_dir(cli)?, cmd, out),
        Command::Run { once } => return live::run(open(cli)?, &data_dir(cli)?, *once, out),
        Command::Account { cmd } => return live::account(&open(cli)?, cmd.as_ref(), out),
        Command::Lines {
            cmd: Some(LinesCmd::Rename { line, label }),
        } => return live::rename_line(&open(cli)?, &data_dir(cli)?, line, label, out),
        _ => {}
    }
    let engine = open(cli)?;
    let e = &engine;
    match &cli.command {
        Command::Lines { cmd } => match cmd {
            None | Some(LinesCmd::List) => out.lines(&e.lines()?),
            Some(LinesCmd::Add {
                number,
                label,
                color,
            }) => out.line(&e.add_line(number, label, color.as_deref())?, "Added"),
            Some(LinesCmd::Color { line, color }) => out.line(
                &e.set_line_color(names::line_id(e, line)?, color)?,
                "Updated",
            ),
            Some(LinesCmd::Remove { line }) => {
                out.line(&e.remove_line(names::line_id(e, line)?)?, "Removed")
            }
            Some(LinesCmd::Rename { .. }) => unreachable!("handled above"),
        },
        Command::Contacts { cmd } => match cmd {
            None | Some(ContactsCmd::List { search: None }) => out.contacts(&e.contacts()?),
            Some(ContactsCmd::List { search: Some(q) }) => out.contacts(&e.find_contacts(q, 50)?),
            Some(ContactsCmd::Add {
                name,
                numbers,
                default_line,
            }) => {
                let line = default_line
                    .as_deref()
                    .map(|l| names::line_id(e, l))
                    .transpose()?;
                out.contact(&e.add_contact(name, numbers, line)?, "Added")
            }
            Some(ContactsCmd::Edit {
                contact,
                name,
                numbers,
                default_line,
                no_default_line,
            }) => {
                let id = names::contact_id(e, contact)?;
                let edit = ContactEdit {
                    name: name.clone(),
                    numbers: (!numbers.is_empty()).then(|| numbers.clone()),
                    default_line: match (default_line, no_default_line) {
                        (_, true) => DefaultLineEdit::Clear,
                        (Some(l), false) => DefaultLineEdit::Set(names::line_id(e, l)?),
                        (None, false) => DefaultLineEdit::Keep,
                    },
                };
                out.contact(&e.edit_contact(id, &edit)?, "Updated")
            }
            Some(ContactsCmd::Default { contact, line }) => {
                let id = names::contact_id(e, contact)?;
                let line = if line.eq_ignore_ascii_case("none") {
                    None
                } else {
                    Some(names::line_id(e, line)?)
                };
                out.contact(&e.set_default_line(id, line)?, "Updated")
            }
            Some(ContactsCmd::Remove { contact }) => {
                let removed = e.remove_contact(names::contact_id(e, contact)?)?;
                out.done(
                    json!({ "removed": removed }),
                    &format!("Removed {}", removed.name),
                )
            }
            Some(ContactsCmd::Import { file, format }) => {
                let text = read_text(file)?;
                let format = format.map_or_else(|| ImportFormat::detect(&text), Into::into);
                out.import(&e.import_contacts(&text, format)?)
            }
        },
        Command::Templates { cmd } => match cmd {
            None | Some(TemplatesCmd::List) => out.templates(&e.templates()?),
            Some(TemplatesCmd::Add { name, text }) => {
                out.template(&e.add_template(name, text)?, "Added")
            }
            Some(TemplatesCmd::Remove { name }) => {
                let template = e.template_named(name)?;
                e.remove_template(template.id)?;
                out.done(
                    json!({ "removed": template }),
                    &format!("Removed the template {}", template.name),
                )
            }
        },
        Command::Send {
            to,
            body,
            body_file,
            template,
            images,
            line,
            dry_run,
            at,
        } => {
            let body = match (body, body_file, template) {
                (_, _, Some(name)) => e.template_named(name)?.text,
                (Some(b), _, _) => b.clone(),
                (None, Some(path), None) if path.as_os_str() == "-" => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .map_err(|err| file_error(path, err))?;
                    s
                }
                (None, Some(path), None) => read_text(path)?,
                (None, None, None) => String::new(),
            };
            let request = ComposeRequest {
                recipients: to.clone(),
                body,
                images: read_images(images)?,
                line: line.as_deref().map(|l| names::line_id(e, l)).transpose()?,
            };
            if let Some(at) = at {
                let at = when::parse_future(at, now_ms(), &local_time::SystemZone)
                    .map_err(EngineError::from)?;
                return out.scheduled_receipt(&e.schedule(
                    &request,
                    at,
                    None,
                    template.is_some(),
                )?);
            }
            if *dry_run {
                let preview = match template {
                    Some(_) => e.preview_template(&request)?,
                    None => e.preview(&request)?,
                };
                if let LineDecision::Pick { reason, lines } = preview.decision {
                    return Err(EngineError::LinePickRequired { reason, lines }.into());
                }
                out.preview(&preview)
            } else if template.is_some() {
                out.receipt(&e.send_template(&request, None)?)
            } else {
                out.receipt(&e.send(&request, None)?)
            }
        }
        Command::Reply {
            thread,
            body,
            template,
            images,
        } => {
            let (thread, images) = (ThreadId(*thread), read_images(images)?);
            let receipt = match template {
                Some(name) => {
                    e.reply_template(thread, &e.template_named(name)?.text, images, None)?
                }
                None => e.reply(thread, body.as_deref().unwrap_or(""), images, None)?,
            };
            out.receipt(&receipt)
        }
        Command::Threads {
            line,
            limit,
            done,
            snoozed,
        } => {
            let line = line.as_deref().map(|l| names::line_id(e, l)).transpose()?;
            let view = match (done, snoozed) {
                (true, _) => View::Done,
                (_, true) => View::Snoozed,
                _ => View::Inbox,
            };
            out.threads_of(view, &e.view_threads(view, line, *limit, None)?)
        }
        Command::Done { thread } => {
            out.triaged(&e.mark_done(names::thread_id(e, thread)?)?, "Done")
        }
        Command::Undone { thread } => out.triaged(
            &e.mark_undone(names::thread_id(e, thread)?)?,
            "Back in the inbox",
        ),
        Command::Unread { thread } => out.triaged(
            &e.mark_unread(names::thread_id(e, thread)?)?,
            "Marked unread",
        ),
        Command::Snooze { thread, until } => {
            let id = names::thread_id(e, thread)?;
            let until = when::parse_future(until, now_ms(), &local_time::SystemZone)
                .map_err(EngineError::from)?;
            out.triaged(&e.snooze(id, until)?, "Snoozed")
        }
        Command::Optouts { line } => {
            let line = line.as_deref().map(|l| names::line_id(e, l)).transpose()?;
            out.opt_outs(&e.opt_outs(line)?)
        }
        Command::Thread { id, limit } => out.thread(&e.thread(ThreadId(*id), *limit, None)?),
        Command::Attachment {
            message,
            index,
            out: file,
            force,
        } => {
            let saved = attachment::save(e, MessageId(*message), *index, file, *force)?;
            out.attachment_saved(&saved, file)
        }
        Command::Search { query, limit } => out.search(&e.search(query, *limit)?),
        Command::Outbox { cmd } => match cmd {
            None | Some(OutboxCmd::List) => out.outbox(&e.outbox()?),
            Some(OutboxCmd::Scheduled) => out.scheduled(&e.scheduled()?),
            Some(OutboxCmd::Cancel { id }) => {
                e.cancel_scheduled(ScheduledId(*id))?;
                out.done(
                    json!({ "cancelled": id }),
                    &format!("Scheduled message {id} is cancelled: nothing is sent."),
                )
            }
            Some(OutboxCmd::SendLate { id }) => {
                let ids = id.map(|id| vec![ScheduledId(id)]);
                let queued = e.send_scheduled_now(ids.as_deref())?;
                out.done(
                    json!({ "queued": queued }),
                    &format!(
                        "{queued} scheduled message(s) queued; `switchboard-cli run` sends them."
                    ),
                )
            }
            Some(OutboxCmd::Retry { message, body }) => {
                let sent = e.retry_failed_message(MessageId(*message), body.as_deref())?;
                let text = if sent.0 == *message {
                    format!("Message {message} is queued again; `switchboard-cli run` sends it.")
                } else {
                    format!(
                        "Message {message} failed at the carrier: it is sent again as message {}; \
                         `switchboard-cli run` sends it.",
                        sent.0
                    )
                };
                out.done(json!({ "retried": message, "message_id": sent }), &text)
            }
            Some(OutboxCmd::Delete { message }) => {
                let thread = e.delete_failed_message(MessageId(*message))?;
                out.done(
                    json!({ "deleted": message, "thread_id": thread }),
                    &format!("Message {message} deleted."),
                )
            }
        },
        Command::Media {
            cmd: MediaCmd::Retry { message },
        } => {
            e.retry_media(MessageId(*message))?;
            out.done(
                json!({ "retried": message }),
                &format!(
                    "Message {message}'s media will be downloaded again; `switchboard-cli run` \
                     fetches them."
                ),
            )
        }
        Command::Run { .. } | Command::Sandbox { .. } | Command::Account { .. } => {
            unreachable!("handled above")
        }
        Command::Settings { cmd } => match cmd {
            None | Some(SettingsCmd::Show) => out.settings(&e.settings()?),
            Some(SettingsCmd::Set { name, value }) => {
                out.settings(&e.set_setting(&SettingChange::parse(name, value)?)?)
            }
        },
    }
}
