// Runs the browser scenarios one after another, each in a fresh browser
// context of one headless Chromium. Usage: node run.mjs [name-filter]
// The environment comes from crates/app/tests/app/browser.rs (see lib.mjs).
import { chromium } from "playwright-core";

import { env, screenshot, TIMEOUT, DESKTOP } from "./lib.mjs";
import { existsSync, readdirSync } from "node:fs";
import { scenarios as core } from "./scenarios.mjs";

// Besides scenarios.mjs, every module in scenarios/ adds its own, in name order.
const scenarios = [...core];
const dir = new URL("./scenarios/", import.meta.url);
for (const f of (existsSync(dir) ? readdirSync(dir) : []).filter((f) => f.endsWith(".mjs")).sort()) {
  scenarios.push(...(await import(new URL(f, dir))).scenarios);
}

const filter = process.argv[2] || process.env.E2E_ONLY || "";
const chosen = scenarios.filter((s) => s.name.includes(filter));
if (!chosen.length) {
  console.error(`e2e: no scenario matches ${JSON.stringify(filter)}`);
  process.exit(2);
}

// Playwright starts Chromium on a fresh, temporary --user-data-dir of its own
// each run (it refuses one passed in args), so nothing is left from an earlier run.
const browser = await chromium.launch({
  executablePath: env.chromium,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
  ],
  timeout: 60_000,
});

const started = Date.now();
const failed = [];
for (const s of chosen) {
  const t0 = Date.now();
  const contexts = [];
  // A scenario asks for as many contexts (agents, devices) as it needs.
  const newContext = async (opts = {}) => {
    const ctx = await browser.newContext({ viewport: DESKTOP, locale: "en-US", ...opts });
    ctx.setDefaultTimeout(TIMEOUT);
    ctx.setDefaultNavigationTimeout(TIMEOUT * 2);
    contexts.push(ctx);
    return ctx;
  };
  try {
    await s.run({ newContext });
    console.log(`e2e: ok   ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (e) {
    failed.push(s.name);
    console.log(`e2e: FAIL ${s.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    console.log(String(e && e.stack ? e.stack : e).replace(/^/gm, "      "));
    // What each page showed when it failed.
    for (const [i, ctx] of contexts.entries()) {
      for (const [j, page] of ctx.pages().entries()) {
        try {
          const path = await screenshot(page, `failed-${s.name}-${i}-${j}`);
          console.log(`      screenshot: ${path} (${page.url()})`);
        } catch {}
      }
    }
  } finally {
    for (const ctx of contexts) await ctx.close().catch(() => {});
  }
}
await browser.close();
const secs = ((Date.now() - started) / 1000).toFixed(1);
if (failed.length) {
  console.log(`e2e: ${failed.length} of ${chosen.length} scenarios failed in ${secs} s: ${failed.join(", ")}`);
  process.exit(1);
}
console.log(`e2e: all ${chosen.length} scenarios passed in ${secs} s; screenshots in ${env.screenshots}`);
