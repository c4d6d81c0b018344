// Entry point of the webview: mounts the Solid application.
import { render } from "solid-js/web";
import { App } from "./app/App";
import "./app/app.css";

const root = document.getElementById("root");
if (root) render(() => <App />, root);
