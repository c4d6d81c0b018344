// The one door between the UI and Rust (GitButler's IBackend): every @tauri-apps import lives in
// this folder. Views receive a Backend; the Tauri implementation talks IPC, and another
// implementation can stand in for UI tests.
import type { AccountConnected } from "./generated/AccountConnected";
import type { AccountStatus } from "./generated/AccountStatus";
import type { AppError } from "./generated/AppError";
import type { AppEvent } from "./generated/AppEvent";
import type { AppStatus } from "./generated/AppStatus";
import type { AttachedImages } from "./generated/AttachedImages";
import type { ComposeInput } from "./generated/ComposeInput";
import type { ComposerState } from "./generated/ComposerState";
import type { Commands } from "./generated/commands";
import type { ContactId } from "./generated/ContactId";
import type { ContactInput } from "./generated/ContactInput";
import type { ContactView } from "./generated/ContactView";
import type { DraftKey } from "./generated/DraftKey";
import type { EngineEvent } from "./generated/EngineEvent";
import type { ImageData } from "./generated/ImageData";
import type { ImportSummary } from "./generated/ImportSummary";
import type { Line } from "./generated/Line";
import type { MediaHostInput } from "./generated/MediaHostInput";
import type { MessageCursor } from "./generated/MessageCursor";
import type { MediaHostSummary } from "./generated/MediaHostSummary";
import type { LineId } from "./generated/LineId";
import type { MessageId } from "./generated/MessageId";
import type { MessageRow } from "./generated/MessageRow";
import type { OutboxJob } from "./generated/OutboxJob";
import type { Preview } from "./generated/Preview";
import type { Recipient } from "./generated/Recipient";
import type { SearchGroup } from "./generated/SearchGroup";
import type { SendReceipt } from "./generated/SendReceipt";
import type { Settings } from "./generated/Settings";
import type { ThreadCursor } from "./generated/ThreadCursor";
import type { ThreadDetail } from "./generated/ThreadDetail";
import type { ThreadId } from "./generated/ThreadId";
import type { ThreadView } from "./generated/ThreadView";

export type {
  AccountConnected, AccountStatus, MediaHostInput, MediaHostSummary,
  AppError, AppEvent, AppStatus, AttachedImages, ComposeInput, ComposerState, ContactId, ContactInput,
  ContactView, DraftKey, EngineEvent, ImageData, ImportSummary, Line, LineId, MessageId,
  MessageRow, OutboxJob, Preview, Recipient, SearchGroup, SendReceipt, Settings, ThreadDetail,
  ThreadId, ThreadView, Commands, ThreadCursor, MessageCursor,
};
export type { AttachmentInfo } from "./generated/AttachmentInfo";
export type { AttachmentState } from "./generated/AttachmentState";
export type { MediaKind } from "./generated/MediaKind";
export type { ErrorCode } from "./generated/ErrorCode";
export type { LineDecision } from "./generated/LineDecision";
export type { SmsCount } from "./generated/SmsCount";
export type { OptedOut } from "./generated/OptedOut";
export type { ScheduleReceipt } from "./generated/ScheduleReceipt";
export type { ScheduledId } from "./generated/ScheduledId";
export type { ScheduledView } from "./generated/ScheduledView";
export type { View } from "./generated/View";
export type { LineUnread } from "./generated/LineUnread";
export type { SavedTemplate } from "./generated/SavedTemplate";
export type { TemplateId } from "./generated/TemplateId";

/** The commands (generated from the shell's list), the two event streams, and where the page
 * loads a media item's bytes from. */
export interface Backend extends Commands {
  /** The address an `<img>` loads a message's image `index` (from 0) from: the shell's `media:`
   * scheme, which answers images only — as received, or (`preview`) scaled down for the
   * thread. */
  mediaUrl(message: MessageId, index: number, preview: boolean): string;
  onEngineEvent(handler: (event: EngineEvent) => void): Promise<() => void>;
  onAppEvent(handler: (event: AppEvent) => void): Promise<() => void>;
}

/** Whether a thrown value is the backend's `{code, message}`. */
export function isAppError(e: unknown): e is AppError {
  return typeof e === "object" && e !== null && "code" in e && "message" in e;
}

/** The sentence to show for any failure. */
export function messageOf(e: unknown): string {
  if (isAppError(e)) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
