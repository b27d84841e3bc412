import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { start } from "./lib/state/start";

const target = document.getElementById("app");
if (!target) throw new Error("#app is missing from index.html");

// `bootstrap` is sent before the first render: its round trip overlaps the mount and the first
// layout, instead of waiting for them (App's onMount ran ~60 ms after mount, measured).
void start();
const app = mount(App, { target });
performance.mark("onramp:mounted");
export default app;
