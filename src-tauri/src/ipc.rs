//! The webview's commands, listed once. From this list come the invoke handler (`handler`), a
//! compile-time proof that every entry matches its function in `commands` (each entry becomes a
//! never-called function with the listed signature that calls it), and, in tests, the
//! description from which `bindings` writes `generated/commands.ts`: the `Commands` interface
//! and its `invoke` implementation.
//!
//! An entry is `async name(injected…; arguments…) -> T;` where the injected parameters are
//! the ones Tauri supplies (State, AppHandle, WebviewWindow), the arguments come from the
//! webview (Tauri reads them under their camelCased names), and the command answers
//! `AppResult<T>`. `argument: Type as "ts"` writes a narrower TypeScript type than the Rust one.
//! Doc comments become the interface's. There is no `sync` entry: Tauri runs a command that is
//! not `async` on the window's main thread, and the check below compiles only for an `async`
//! command.
//!
//! The compiler checks types and their order, not names: an argument renamed in `commands` but
//! not here keeps compiling, and the webview's call then misses its key.

use switchboard_engine::core::model::{ContactId, Line, LineId, MessageId, TemplateId, ThreadId};
use switchboard_engine::core::templates::SavedTemplate;
use switchboard_engine::core::triage::View;
use switchboard_engine::store::{
    DraftKey, MessageCursor, MessageRow, OutboxJob, ScheduledId, ThreadCursor,
};
use switchboard_engine::{
    AccountConnected, AccountStatus, ComposerState, ContactView, ImportSummary, LineUnread,
    MediaHostSummary, Preview, Recipient, ScheduleReceipt, ScheduledView, SearchGroup, SendReceipt,
    Settings, ThreadDetail, ThreadView,
};
use tauri::{AppHandle, State, WebviewWindow};

use crate::commands::{
    self, AppStatus, AttachedImages, ComposeInput, ContactInput, DraftImageInput, MediaHostInput,
};
use crate::error::AppResult;
use crate::state::App;

macro_rules! ipc {
    // A function with the entry's signature that calls the command: it compiles only when the
    // entry matches the command's parameters and answer.
    (@check async $name:ident ($($p:ident: $pt:ty,)*) $ret:ty) => {
        pub async fn $name($($p: $pt),*) -> AppResult<$ret> {
            commands::$name($($p),*).await
        }
    };
    (@ts $cfg:ident, $t:ty) => { typescript::name::<$t>($cfg) };
    (@ts $cfg:ident, $t:ty, $ts:literal) => { String::from($ts) };

    ($(
        $(#[doc = $doc:literal])*
        $kind:ident $name:ident(
            $($inj:ident: $injty:ty),* ;
            $($arg:ident: $argty:ty $(as $ts:literal)?),* $(,)?
        ) -> $ret:ty;
    )*) => {
        /// Tauri's invoke handler for every command listed.
        pub fn handler() -> impl Fn(tauri::ipc::Invoke) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$(commands::$name),*]
        }

        #[allow(dead_code)]
        mod check {
            use super::*;
            $( ipc!(@check $kind $name ($($inj: $injty,)* $($arg: $argty,)*) $ret); )*
        }

        /// Every command as the webview sees it, in the list's order.
        #[cfg(test)]
        pub fn describe(cfg: &ts_rs::Config) -> Vec<typescript::Command> {
            vec![$(typescript::Command {
                name: stringify!($name),
                docs: vec![$($doc),*],
                args: vec![$((stringify!($arg), ipc!(@ts cfg, $argty $(, $ts)?))),*],
                answer: typescript::answer::<$ret>(cfg),
            }),*]
        }

        /// Visits every type the commands take or answer (for their imports and their files).
        #[cfg(test)]
        pub fn visit_types(v: &mut impl ts_rs::TypeVisitor) {
            $(
                $( typescript::visit::<$argty>(v); )*
                typescript::visit::<$ret>(v);
            )*
        }
    };
}

ipc! {
    async status(app: State<'_, App>, window: WebviewWindow;) -> AppStatus;
    async lines(app: State<'_, App>;) -> Vec<Line>;
    async add_line(app: State<'_, App>; number: String, label: String, color: Option<String>)
        -> Line;
    async edit_line(app: State<'_, App>; line: LineId, label: String, color: String) -> Line;
    /// One view's conversation list (inbox, snoozed, done), newest first.
    async threads(
        app: State<'_, App>;
        view: View, line: Option<LineId>, limit: usize, before: Option<ThreadCursor>
    ) -> Vec<ThreadView>;
    /// Out of the inbox until a new message arrives.
    async mark_done(app: State<'_, App>; thread: ThreadId) -> ThreadView;
    /// Back to the inbox from Done or Snoozed.
    async mark_undone(app: State<'_, App>; thread: ThreadId) -> ThreadView;
    async mark_unread(app: State<'_, App>; thread: ThreadId) -> ThreadView;
    /// Out of the inbox until `until` (ms since the epoch) or a new message; then back on top.
    async snooze(app: State<'_, App>; thread: ThreadId, until: i64) -> ThreadView;
    /// Unread messages per line (lines without any left out).
    async unread_by_line(app: State<'_, App>;) -> Vec<LineUnread>;
    async thread(app: State<'_, App>; id: ThreadId, limit: usize, before: Option<MessageCursor>)
        -> ThreadDetail;
    /// Messages read again by id, in the order asked; deleted ones left out.
    async messages(app: State<'_, App>; ids: Vec<MessageId>) -> Vec<MessageRow>;
    async view_thread(app: State<'_, App>; thread: Option<ThreadId>) -> ();
    async search(app: State<'_, App>; query: String) -> Vec<SearchGroup>;
    async contacts(app: State<'_, App>;) -> Vec<ContactView>;
    async find_contacts(app: State<'_, App>; query: String) -> Vec<ContactView>;
    async add_contact(app: State<'_, App>; contact: ContactInput) -> ContactView;
    async edit_contact(app: State<'_, App>; id: ContactId, contact: ContactInput) -> ContactView;
    async set_default_line(app: State<'_, App>; contact: ContactId, line: Option<LineId>)
        -> ContactView;
    async remove_contact(app: State<'_, App>; id: ContactId) -> ();
    async import_contacts(app: State<'_, App>; text: String) -> ImportSummary;
    async recipient(app: State<'_, App>; input: String) -> Recipient;
    /// Checks a message's images (base64; those attached, then those added) and fits them
    /// together to the line's budget: what will be sent.
    async prepare_images(; images: Vec<String>) -> AttachedImages;
    async preview(app: State<'_, App>; input: ComposerState) -> Preview;
    async send(app: State<'_, App>; input: ComposeInput) -> SendReceipt;
    /// The composer's message, kept to go at `sendAt` (ms since the epoch).
    async schedule(app: State<'_, App>; input: ComposeInput, send_at: i64 as "number")
        -> ScheduleReceipt;
    /// Every message waiting to be sent later, soonest first.
    async scheduled(app: State<'_, App>;) -> Vec<ScheduledView>;
    async edit_scheduled(app: State<'_, App>; id: ScheduledId, body: String, send_at: i64 as "number")
        -> ();
    async cancel_scheduled(app: State<'_, App>; id: ScheduledId) -> ();
    /// Sends waiting messages now (`null`: every one held for being late); answers how many.
    async send_scheduled_now(app: State<'_, App>; ids: Option<Vec<ScheduledId>>) -> usize;
    /// `template`: the body is a template, filled for the thread's contact and line.
    async reply(
        app: State<'_, App>;
        thread: ThreadId, body: String, images: Vec<String>, template: bool
    ) -> SendReceipt;
    /// Every saved template, by name.
    async templates(app: State<'_, App>;) -> Vec<SavedTemplate>;
    async add_template(app: State<'_, App>; name: String, text: String) -> SavedTemplate;
    async remove_template(app: State<'_, App>; id: TemplateId) -> ();
    /// Opens a save dialog and writes the item's original bytes; the file's name, or null.
    async save_attachment(app: State<'_, App>, window: WebviewWindow; message: MessageId, index: u8)
        -> Option<String>;
    async outbox(app: State<'_, App>;) -> Vec<OutboxJob>;
    async retry_message(app: State<'_, App>; message: MessageId, body: Option<String>) -> ();
    /// "Try again" on a received message's media that could not be downloaded.
    async retry_media(app: State<'_, App>; message: MessageId) -> ();
    async delete_message(app: State<'_, App>; message: MessageId) -> ThreadId;
    async load_draft(app: State<'_, App>; key: DraftKey) -> Option<String>;
    async save_draft(app: State<'_, App>; key: DraftKey, json: String) -> ();
    /// Replaces a draft's images (base64, as prepared), only when the set changed.
    async save_draft_images(app: State<'_, App>; key: DraftKey, images: Vec<DraftImageInput>)
        -> ();
    /// A draft's images in their order.
    async draft_images(app: State<'_, App>; key: DraftKey) -> AttachedImages;
    async discard_draft(app: State<'_, App>; key: DraftKey) -> ();
    async settings(app: State<'_, App>;) -> Settings;
    async set_setting(
        app: State<'_, App>, handle: AppHandle;
        name: String as "keyof Settings", value: String
    ) -> Settings;
    async set_pinned(handle: AppHandle; pinned: bool) -> bool;
    async account(app: State<'_, App>;) -> AccountStatus;
    /// Checks the credentials with Twilio, keeps them in the keychain, adopts the numbers.
    async connect_twilio(
        app: State<'_, App>, handle: AppHandle;
        account_sid: String, auth_token: String
    ) -> AccountConnected;
    async disconnect_twilio(app: State<'_, App>, handle: AppHandle;) -> AccountStatus;
    async set_media_host(app: State<'_, App>, handle: AppHandle; host: MediaHostInput)
        -> MediaHostSummary;
    async remove_media_host(app: State<'_, App>, handle: AppHandle;) -> AccountStatus;
    async sandbox_online(app: State<'_, App>; online: bool) -> ();
    /// The first conversation list is painted (the shell logs the start-up time).
    async ui_ready(app: State<'_, App>, handle: AppHandle; page_ms: f64) -> ();
}

/// What `bindings` needs to write a command in TypeScript.
#[cfg(test)]
pub mod typescript {
    use std::any::TypeId;

    use ts_rs::{Config, TypeVisitor, TS};

    pub struct Command {
        /// The Rust name, which is also the name `invoke` takes.
        pub name: &'static str,
        pub docs: Vec<&'static str>,
        /// Each argument's Rust name and TypeScript type.
        pub args: Vec<(&'static str, String)>,
        /// The TypeScript type the promise resolves to.
        pub answer: String,
    }

    pub fn name<T: TS>(cfg: &Config) -> String {
        T::name(cfg)
    }

    /// `()` arrives as `null`; the interface says `void`.
    pub fn answer<T: TS + 'static>(cfg: &Config) -> String {
        if TypeId::of::<T>() == TypeId::of::<()>() {
            "void".to_owned()
        } else {
            T::name(cfg)
        }
    }

    /// The type and the types its name mentions (`Line` in `Array<Line>`), as a struct's fields
    /// are visited by ts-rs.
    pub fn visit<T: TS + 'static>(v: &mut impl TypeVisitor) {
        v.visit::<T>();
        T::visit_generics(v);
    }
}
