import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";
import tauriConf from "../src-tauri/tauri.conf.json" with { type: "json" };

/** `make dev` points the app's `build.devUrl` here (scripts/dev.sh). */
const DEV_HOST = "127.0.0.1";
const DEV_PORT = 1420;

/** Marks the `<style>` elements Vite adds in dev (CSS hot reload); dev server only. */
const DEV_NONCE = "onramp-dev";

/**
 * With a devUrl the webview loads the page straight from Vite, so Tauri sets no CSP: Vite sends the app's
 * `devCsp` itself, with only what the dev server needs on top (its hot-reload socket, its nonce-marked
 * style elements, the blob: worker its client pings the server from).
 */
function devCsp(): string {
  const directives = tauriConf.app.security.devCsp.split(";").map((d) => d.trim());
  return [
    ...directives.map((d) => {
      const name = d.split(/\s+/)[0];
      if (name === "connect-src") return `${d} ws://${DEV_HOST}:${DEV_PORT}`;
      if (name === "style-src") return `${d} 'nonce-${DEV_NONCE}'`;
      return d;
    }),
    "worker-src blob:",
  ].join("; ");
}

// The app runs in a Tauri webview under a strict CSP (no inline scripts or styles),
// so every asset must end up as a file next to index.html.
export default defineConfig(({ command }) => ({
  base: "./",
  plugins: [svelte({ emitCss: true })],
  clearScreen: false,
  server: {
    host: DEV_HOST,
    port: DEV_PORT,
    strictPort: true,
    headers: { "Content-Security-Policy": devCsp() },
  },
  // Dev server only: a build keeps its index.html as it is (Tauri adds its own nonces and hashes).
  html: command === "serve" ? { cspNonce: DEV_NONCE } : undefined,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    // Never inline assets as data: URLs into JS/CSS; keep them as files.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
  },
}));
