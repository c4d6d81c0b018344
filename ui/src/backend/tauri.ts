// The Backend over Tauri's IPC: the generated `invoke` of every command, events through `listen`.
import { listen } from "@tauri-apps/api/event";
import { tauriCommands } from "./generated/commands";
import type { AppEvent, Backend, EngineEvent } from "./index";

export const tauriBackend: Backend = {
  ...tauriCommands,
  onEngineEvent: (handler) => listen<EngineEvent>("engine", (e) => handler(e.payload)),
  onAppEvent: (handler) => listen<AppEvent>("app", (e) => handler(e.payload)),
};
