// Small display helpers shared by the views: times and message statuses in words.
import type { AttachmentInfo, ErrorCode, MediaKind, MessageRow } from "../backend";

/** A failed message's code when the carrier would not say whether it has the message. */
const UNCONFIRMED: ErrorCode = "unconfirmed";

/** Whether a failed message is one Switchboard couldn't confirm (rather than one refused):
 * its Retry checks with the carrier first and sends only if the message never arrived. */
export function isUnconfirmed(m: MessageRow): boolean {
  return m.status === "failed" && m.error?.code === UNCONFIRMED;
}

const sameDay = (a: Date, b: Date) =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();

/** "14:05" today, "Mon" this week, else "12 Mar". */
export function shortTime(ms: number, now = new Date()): string {
  const d = new Date(ms);
  if (sameDay(d, now)) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  const days = (now.getTime() - d.getTime()) / 86_400_000;
  if (days < 6) return d.toLocaleDateString(undefined, { weekday: "short" });
  return d.toLocaleDateString(undefined, { day: "numeric", month: "short" });
}

export function fullTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** `ms` as a datetime-local input's value, in this computer's time zone (to the minute). */
export function localInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** What a message's status reads as under the bubble. */
export function statusText(m: MessageRow): string {
  switch (m.status) {
    case "queued":
      return "Waiting to send";
    case "sending":
      return "Sending…";
    case "sent":
      return "Sent";
    case "delivered":
      return "Delivered";
    case "undelivered":
      return `Not delivered${m.error ? `: ${m.error.message}` : ""}`;
    case "failed":
      // The engine's sentence says it all: couldn't confirm, what Retry and Delete do.
      if (isUnconfirmed(m)) return m.error?.message ?? "";
      return `Failed${m.error ? `: ${m.error.message}` : ""}`;
    case "received":
      return "";
  }
}

/** Reads a picked file as base64 (without the data: prefix). */
export function fileToBase64(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const url = String(reader.result);
      resolve(url.slice(url.indexOf(",") + 1));
    };
    reader.onerror = () => reject(new Error("The file could not be read."));
    reader.readAsDataURL(file);
  });
}

export function mimeOf(kind: "jpeg" | "png" | "gif"): string {
  return kind === "jpeg" ? "image/jpeg" : kind === "png" ? "image/png" : "image/gif";
}

/** Calls `f` once `ms` have passed without another call. */
export function debounce<A extends unknown[], R>(f: (...args: A) => R, ms: number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const call = (...args: A) => {
    clearTimeout(timer);
    timer = setTimeout(() => f(...args), ms);
  };
  /** Runs now (cancelling the pending call) and returns what `f` returns. */
  call.flush = (...args: A): R => {
    clearTimeout(timer);
    return f(...args);
  };
  /** Forgets the pending call. */
  call.cancel = () => clearTimeout(timer);
  return call;
}

/** Runs `f` as often as asked but never twice at once, the newest ask winning: an ask while a call
 * is on its way makes one more call once it is back (however many asks came meanwhile), which
 * reads the state as it is then. Each answer is handed to `apply` in order, so what is shown is
 * never older than what was shown before, and the last answer is for the last ask. The promise an
 * ask returns settles once that last answer is applied. */
export function newestWins<R>(
  f: () => Promise<R>,
  apply: (result: R) => void,
  fail: (error: unknown) => void,
) {
  let running: Promise<void> | null = null;
  let again = false;
  return (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          apply(await f());
        } catch (e) {
          fail(e);
        }
      } while (again);
      running = null;
    })();
    return running;
  };
}

/** What a media item is, in a word ("Photo", "PDF"): core's `MediaKind::label`. */
export function mediaLabel(kind: MediaKind | null): string {
  switch (kind) {
    case "image":
      return "Photo";
    case "contact":
      return "Contact card";
    case "pdf":
      return "PDF";
    case "audio":
      return "Audio";
    case "video":
      return "Video";
    case "other":
      return "File";
    case null:
      return "Attachment";
  }
}

/** A file's size as people read it: "820 bytes", "340 KB", "2.1 MB" (powers of 1000, as file
 * managers show them). */
export function sizeText(bytes: number): string {
  if (bytes < 1000) return `${bytes} ${bytes === 1 ? "byte" : "bytes"}`;
  if (bytes < 999_500) return `${Math.round(bytes / 1000)} KB`;
  const mb = bytes / 1_000_000;
  return `${mb < 10 ? mb.toFixed(1) : Math.round(mb)} MB`;
}

/** What the footer says of a message's state, "sent from another device" included. */
export function footerText(m: MessageRow): string {
  const status = statusText(m);
  if (!m.sent_elsewhere) return status;
  return m.status === "sent" ? "Sent from another device" : `${status} · sent from another device`;
}

/** "Photo 2 of 3": what a media item is and where it stands in its message. */
export function itemName(m: MessageRow, a: AttachmentInfo): string {
  return `${mediaLabel(a.kind)} ${a.index + 1} of ${m.attachments.length}`;
}
