//! `attachment MESSAGE --index N --out FILE`: one media item of a message written to a file,
//! byte for byte as the store holds it (as received, or as sent), with a sentence for each
//! way it can't be: no such message, no such item, not downloaded yet, a file that exists or
//! can't be written. An existing FILE is replaced only with `--force`, and then whole or not
//! at all (written beside it, then renamed over it).

use std::io::Write;
use std::path::{Path, PathBuf};

use switchboard_engine::core::model::MessageId;
use switchboard_engine::store::{Attachment, AttachmentState, StoreError};
use switchboard_engine::{Engine, EngineError};

use crate::{exit, Failure};

fn failure(code: &str, message: String, exit: u8) -> Failure {
    Failure {
        code: code.into(),
        message,
        details: None,
        exit,
    }
}

/// Writes item `index` of `message` to `file`; returns what was written.
pub fn save(
    engine: &Engine,
    message: MessageId,
    index: u32,
    file: &Path,
    force: bool,
) -> Result<Attachment, Failure> {
    let row = match engine.store().get_message(message) {
        Ok(row) => row,
        Err(StoreError::MessageNotFound(_)) => {
            return Err(failure(
                "message_not_found",
                format!(
                    "There is no message {message}: `switchboard-cli thread ID` shows the ids."
                ),
                exit::NOT_FOUND,
            ))
        }
        Err(e) => return Err(EngineError::from(e).into()),
    };
    let count = row.attachments.len();
    let Some(info) = row.attachments.iter().find(|a| u32::from(a.index) == index) else {
        let message = match count {
            0 => format!("Message {message} has no attachments."),
            1 => format!("Message {message} has one attachment: its --index is 0."),
            n => format!(
                "Message {message} has {n} attachments: --index goes from 0 to {}.",
                n - 1
            ),
        };
        return Err(failure("attachment_not_found", message, exit::NOT_FOUND));
    };
    let not_yet = |why: &str| {
        failure(
            "attachment_not_downloaded",
            format!("Attachment {index} of message {message} {why}"),
            exit::UNAVAILABLE,
        )
    };
    match info.state {
        AttachmentState::Ready => {}
        AttachmentState::Downloading => {
            return Err(not_yet(
                "is not downloaded yet: `switchboard-cli run` fetches it; try again then.",
            ))
        }
        AttachmentState::Unavailable => {
            return Err(not_yet(
                "could not be downloaded from the carrier, which no longer gives it.",
            ))
        }
    }
    let attachment = engine
        .attachment(message, info.index)?
        // Ready a moment ago: deleted since, with its message.
        .ok_or_else(|| not_yet("is no longer there."))?;
    write(file, &attachment.bytes, force)?;
    tracing::info!(message = %message, index, bytes = attachment.bytes.len(), "saved an attachment");
    Ok(attachment)
}

/// Writes `bytes` to `file`: a new file, or with `force` a whole replacement.
fn write(file: &Path, bytes: &[u8], force: bool) -> Result<(), Failure> {
    let unwritable = |e: std::io::Error| {
        failure(
            "file_unwritable",
            format!("{} cannot be written: {e}.", file.display()),
            exit::INVALID_INPUT,
        )
    };
    if file.is_dir() {
        return Err(failure(
            "file_unwritable",
            format!(
                "{} is a folder: give the name of the file to write.",
                file.display()
            ),
            exit::INVALID_INPUT,
        ));
    }
    if !force {
        let mut f = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(file)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(failure(
                    "file_exists",
                    format!(
                        "{} already exists: choose another name, or pass --force to replace it.",
                        file.display()
                    ),
                    exit::INVALID_INPUT,
                ))
            }
            Err(e) => return Err(unwritable(e)),
        };
        return f.write_all(bytes).and_then(|()| f.sync_all()).map_err(|e| {
            // Nothing half-written is left behind.
            let _ = std::fs::remove_file(file);
            unwritable(e)
        });
    }
    let partial = partial_name(file);
    let written = std::fs::File::create(&partial)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&partial, file));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        unwritable(e)
    })
}

/// `FILE.partial` beside FILE, where a replacement is written before it is renamed over it.
fn partial_name(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    file.with_file_name(name)
}
