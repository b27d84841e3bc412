import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { start } from "./lib/state/start";

const target = document.getElementById("app");
if (!target) throw new Error("#app is missing from index.html");

// How long start-up may take before the shell shows "Starting Onramp…" instead of the first step.
const SHOW_STARTING_AFTER_MS = 150;

// Mounted once `bootstrap` has answered (index.html sent it before this script loaded), so the
// first layout is the step's: mounting the empty shell first cost the page a whole layout before it
// could read the answer (docs/benchmark.md, "Fifth measurement"). A slow start still shows the shell.
let mounted = false;
function mountApp(): void {
  if (mounted) return;
  mounted = true;
  mount(App, { target: target! });
  performance.mark("onramp:mounted");
}
const started = start();
void Promise.race([started, new Promise((resolve) => setTimeout(resolve, SHOW_STARTING_AFTER_MS))]).then(mountApp);
