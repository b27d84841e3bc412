import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The app runs in a Tauri webview under a strict CSP (no inline scripts or styles),
// so every asset must end up as a file next to index.html.
export default defineConfig({
  base: "./",
  plugins: [svelte({ emitCss: true })],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Never inline assets as data: URLs into JS/CSS; keep them as files.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
  },
});
