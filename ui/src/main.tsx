// Entry point of the webview: mounts the Solid application on the Tauri backend.
import { render } from "solid-js/web";
import { App } from "./app/App";
import { tauriBackend } from "./backend/tauri";
import "./app/app.css";

const root = document.getElementById("root");
if (root) render(() => <App backend={tauriBackend} />, root);
