// Generated from the command list in src-tauri/src/ipc.rs by src-tauri/src/bindings.rs:
// do not edit.
import { invoke } from "@tauri-apps/api/core";
import type { AccountConnected } from "./AccountConnected";
import type { AccountStatus } from "./AccountStatus";
import type { AppStatus } from "./AppStatus";
import type { AttachedImages } from "./AttachedImages";
import type { ComposeInput } from "./ComposeInput";
import type { ComposerState } from "./ComposerState";
import type { ContactId } from "./ContactId";
import type { ContactInput } from "./ContactInput";
import type { ContactView } from "./ContactView";
import type { DraftImageInput } from "./DraftImageInput";
import type { DraftKey } from "./DraftKey";
import type { ImportSummary } from "./ImportSummary";
import type { Line } from "./Line";
import type { LineId } from "./LineId";
import type { LineUnread } from "./LineUnread";
import type { MediaHostInput } from "./MediaHostInput";
import type { MediaHostSummary } from "./MediaHostSummary";
import type { MessageCursor } from "./MessageCursor";
import type { MessageId } from "./MessageId";
import type { MessageRow } from "./MessageRow";
import type { OutboxJob } from "./OutboxJob";
import type { Preview } from "./Preview";
import type { Recipient } from "./Recipient";
import type { SavedTemplate } from "./SavedTemplate";
import type { ScheduleReceipt } from "./ScheduleReceipt";
import type { ScheduledId } from "./ScheduledId";
import type { ScheduledView } from "./ScheduledView";
import type { SearchGroup } from "./SearchGroup";
import type { SendReceipt } from "./SendReceipt";
import type { Settings } from "./Settings";
import type { TemplateId } from "./TemplateId";
import type { ThreadCursor } from "./ThreadCursor";
import type { ThreadDetail } from "./ThreadDetail";
import type { ThreadId } from "./ThreadId";
import type { ThreadView } from "./ThreadView";
import type { View } from "./View";

/** Every command of the shell, as the webview calls it. */
export interface Commands {
  status(): Promise<AppStatus>;
  lines(): Promise<Array<Line>>;
  addLine(number: string, label: string, color: string | null): Promise<Line>;
  editLine(line: LineId, label: string, color: string): Promise<Line>;
  /** One view's conversation list (inbox, snoozed, done), newest first. */
  threads(view: View, line: LineId | null, limit: number, before: ThreadCursor | null): Promise<Array<ThreadView>>;
  /** Out of the inbox until a new message arrives. */
  markDone(thread: ThreadId): Promise<ThreadView>;
  /** Back to the inbox from Done or Snoozed. */
  markUndone(thread: ThreadId): Promise<ThreadView>;
  markUnread(thread: ThreadId): Promise<ThreadView>;
  /** Out of the inbox until `until` (ms since the epoch) or a new message; then back on top. */
  snooze(thread: ThreadId, until: number): Promise<ThreadView>;
  /** Unread messages per line (lines without any left out). */
  unreadByLine(): Promise<Array<LineUnread>>;
  thread(id: ThreadId, limit: number, before: MessageCursor | null): Promise<ThreadDetail>;
  /** Messages read again by id, in the order asked; deleted ones left out. */
  messages(ids: Array<MessageId>): Promise<Array<MessageRow>>;
  viewThread(thread: ThreadId | null): Promise<void>;
  search(query: string): Promise<Array<SearchGroup>>;
  contacts(): Promise<Array<ContactView>>;
  findContacts(query: string): Promise<Array<ContactView>>;
  addContact(contact: ContactInput): Promise<ContactView>;
  editContact(id: ContactId, contact: ContactInput): Promise<ContactView>;
  setDefaultLine(contact: ContactId, line: LineId | null): Promise<ContactView>;
  removeContact(id: ContactId): Promise<void>;
  importContacts(text: string): Promise<ImportSummary>;
  recipient(input: string): Promise<Recipient>;
  /**
   * Checks a message's images (base64; those attached, then those added) and fits them
   * together to the line's budget: what will be sent.
   */
  prepareImages(images: Array<string>): Promise<AttachedImages>;
  preview(input: ComposerState): Promise<Preview>;
  send(input: ComposeInput): Promise<SendReceipt>;
  /** The composer's message, kept to go at `sendAt` (ms since the epoch). */
  schedule(input: ComposeInput, sendAt: number): Promise<ScheduleReceipt>;
  /** Every message waiting to be sent later, soonest first. */
  scheduled(): Promise<Array<ScheduledView>>;
  editScheduled(id: ScheduledId, body: string, sendAt: number): Promise<void>;
  cancelScheduled(id: ScheduledId): Promise<void>;
  /** Sends waiting messages now (`null`: every one held for being late); answers how many. */
  sendScheduledNow(ids: Array<ScheduledId> | null): Promise<number>;
  /** `template`: the body is a template, filled for the thread's contact and line. */
  reply(thread: ThreadId, body: string, images: Array<string>, template: boolean): Promise<SendReceipt>;
  /** Every saved template, by name. */
  templates(): Promise<Array<SavedTemplate>>;
  addTemplate(name: string, text: string): Promise<SavedTemplate>;
  removeTemplate(id: TemplateId): Promise<void>;
  /** Opens a save dialog and writes the item's original bytes; the file's name, or null. */
  saveAttachment(message: MessageId, index: number): Promise<string | null>;
  outbox(): Promise<Array<OutboxJob>>;
  retryMessage(message: MessageId, body: string | null): Promise<void>;
  /** "Try again" on a received message's media that could not be downloaded. */
  retryMedia(message: MessageId): Promise<void>;
  deleteMessage(message: MessageId): Promise<ThreadId>;
  loadDraft(key: DraftKey): Promise<string | null>;
  saveDraft(key: DraftKey, json: string): Promise<void>;
  /** Replaces a draft's images (base64, as prepared), only when the set changed. */
  saveDraftImages(key: DraftKey, images: Array<DraftImageInput>): Promise<void>;
  /** A draft's images in their order. */
  draftImages(key: DraftKey): Promise<AttachedImages>;
  discardDraft(key: DraftKey): Promise<void>;
  settings(): Promise<Settings>;
  setSetting(name: keyof Settings, value: string): Promise<Settings>;
  setPinned(pinned: boolean): Promise<boolean>;
  account(): Promise<AccountStatus>;
  /** Checks the credentials with Twilio, keeps them in the keychain, adopts the numbers. */
  connectTwilio(accountSid: string, authToken: string): Promise<AccountConnected>;
  disconnectTwilio(): Promise<AccountStatus>;
  setMediaHost(host: MediaHostInput): Promise<MediaHostSummary>;
  removeMediaHost(): Promise<AccountStatus>;
  sandboxOnline(online: boolean): Promise<void>;
  /** The first conversation list is painted (the shell logs the start-up time). */
  uiReady(pageMs: number): Promise<void>;
}

/** The commands over Tauri's IPC: one `invoke` each. */
export const tauriCommands: Commands = {
  status: () => invoke("status"),
  lines: () => invoke("lines"),
  addLine: (number, label, color) => invoke("add_line", { number, label, color }),
  editLine: (line, label, color) => invoke("edit_line", { line, label, color }),
  threads: (view, line, limit, before) => invoke("threads", { view, line, limit, before }),
  markDone: (thread) => invoke("mark_done", { thread }),
  markUndone: (thread) => invoke("mark_undone", { thread }),
  markUnread: (thread) => invoke("mark_unread", { thread }),
  snooze: (thread, until) => invoke("snooze", { thread, until }),
  unreadByLine: () => invoke("unread_by_line"),
  thread: (id, limit, before) => invoke("thread", { id, limit, before }),
  messages: (ids) => invoke("messages", { ids }),
  viewThread: (thread) => invoke("view_thread", { thread }),
  search: (query) => invoke("search", { query }),
  contacts: () => invoke("contacts"),
  findContacts: (query) => invoke("find_contacts", { query }),
  addContact: (contact) => invoke("add_contact", { contact }),
  editContact: (id, contact) => invoke("edit_contact", { id, contact }),
  setDefaultLine: (contact, line) => invoke("set_default_line", { contact, line }),
  removeContact: (id) => invoke("remove_contact", { id }),
  importContacts: (text) => invoke("import_contacts", { text }),
  recipient: (input) => invoke("recipient", { input }),
  prepareImages: (images) => invoke("prepare_images", { images }),
  preview: (input) => invoke("preview", { input }),
  send: (input) => invoke("send", { input }),
  schedule: (input, sendAt) => invoke("schedule", { input, sendAt }),
  scheduled: () => invoke("scheduled"),
  editScheduled: (id, body, sendAt) => invoke("edit_scheduled", { id, body, sendAt }),
  cancelScheduled: (id) => invoke("cancel_scheduled", { id }),
  sendScheduledNow: (ids) => invoke("send_scheduled_now", { ids }),
  reply: (thread, body, images, template) => invoke("reply", { thread, body, images, template }),
  templates: () => invoke("templates"),
  addTemplate: (name, text) => invoke("add_template", { name, text }),
  removeTemplate: (id) => invoke("remove_template", { id }),
  saveAttachment: (message, index) => invoke("save_attachment", { message, index }),
  outbox: () => invoke("outbox"),
  retryMessage: (message, body) => invoke("retry_message", { message, body }),
  retryMedia: (message) => invoke("retry_media", { message }),
  deleteMessage: (message) => invoke("delete_message", { message }),
  loadDraft: (key) => invoke("load_draft", { key }),
  saveDraft: (key, json) => invoke("save_draft", { key, json }),
  saveDraftImages: (key, images) => invoke("save_draft_images", { key, images }),
  draftImages: (key) => invoke("draft_images", { key }),
  discardDraft: (key) => invoke("discard_draft", { key }),
  settings: () => invoke("settings"),
  setSetting: (name, value) => invoke("set_setting", { name, value }),
  setPinned: (pinned) => invoke("set_pinned", { pinned }),
  account: () => invoke("account"),
  connectTwilio: (accountSid, authToken) => invoke("connect_twilio", { accountSid, authToken }),
  disconnectTwilio: () => invoke("disconnect_twilio"),
  setMediaHost: (host) => invoke("set_media_host", { host }),
  removeMediaHost: () => invoke("remove_media_host"),
  sandboxOnline: (online) => invoke("sandbox_online", { online }),
  uiReady: (pageMs) => invoke("ui_ready", { pageMs }),
};
