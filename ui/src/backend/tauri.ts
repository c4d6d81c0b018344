// The Backend over Tauri's IPC: the generated `invoke` of every command, events through `listen`,
// and media through the shell's `media:` scheme (src-tauri/src/media.rs).
import { convertFileSrc } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import { tauriCommands } from "./generated/commands";
import type { AppEvent, Backend, EngineEvent } from "./index";

export const tauriBackend: Backend = {
  ...tauriCommands,
  onEngineEvent: (handler) => listen<EngineEvent>("engine", (e) => handler(e.payload)),
  onAppEvent: (handler) => listen<AppEvent>("app", (e) => handler(e.payload)),
  // `media://localhost/<message>%2F<index>` on Linux and macOS, `http://media.localhost/…` on
  // Windows: convertFileSrc knows each platform's form.
  mediaUrl: (message, index, preview) =>
    convertFileSrc(`${message}/${index}${preview ? "/preview" : ""}`, "media"),
};
