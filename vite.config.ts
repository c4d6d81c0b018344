// Vite builds the TypeScript front end from ui/ into ui/dist, which Tauri embeds.
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

export default defineConfig({
  root: "ui",
  plugins: [solid()],
  clearScreen: false,
  server: { port: 1420, strictPort: true, watch: { ignored: ["**/src-tauri/**"] } },
  build: { outDir: "dist", emptyOutDir: true, target: "safari15", sourcemap: false },
});
