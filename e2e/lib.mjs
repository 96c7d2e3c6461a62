// Helpers shared by the browser scenarios: the environment the Rust test sets,
// signing in, texting as a customer, screenshots, and clear failures.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these through crates/app/tests/app/browser.rs (cargo test -p textdesk --test app browser)`);
  return v;
}

export const env = {
  base: need("TEXTDESK_BASE_URL"),
  agent: { email: need("TEXTDESK_AGENT_EMAIL"), name: process.env.TEXTDESK_AGENT_NAME || "" },
  agent2: { email: need("TEXTDESK_AGENT2_EMAIL"), name: process.env.TEXTDESK_AGENT2_NAME || "" },
  password: need("TEXTDESK_PASSWORD"),
  inbox: need("TEXTDESK_SIM_INBOX"),
  admin: { email: need("TEXTDESK_ADMIN_EMAIL") },
  supervisor: { email: need("TEXTDESK_SUPERVISOR_EMAIL"), name: process.env.TEXTDESK_SUPERVISOR_NAME || "" },
  twilioInbox: need("TEXTDESK_TWILIO_INBOX"),
  twilioInboundUrl: need("TEXTDESK_TWILIO_INBOUND_URL"),
  chromium: process.env.TEXTDESK_CHROMIUM || "/usr/bin/chromium",
  screenshots: process.env.TEXTDESK_SCREENSHOTS || "screenshots",
};

/** Generous: the machine running CI may have two busy cores. */
export const TIMEOUT = 10_000;

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 360, height: 740 };

export class Failure extends Error {}

export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

/** A customer number of its own for each scenario, so they never meet. */
let nextNumber = 300;
/** A zone where it is about midday now: business-initiated texts and calls to a customer there are never held
 * by their quiet hours, whenever a scenario runs. */
export function middayZone() {
  const offset = 12 - new Date().getUTCHours();
  if (offset === 0) return "Etc/GMT";
  return offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`;
}

export function customerNumber() {
  nextNumber += 1;
  return `+1415555${String(nextNumber).padStart(4, "0")}`;
}

/** The customer texts the business (the simulator's API, as the phone page does). */
export async function textIn(request, from, body) {
  const r = await request.post(`${env.base}/simulator/api/inboxes/${env.inbox}/messages`, { data: { from, body } });
  check(r.ok(), `the simulator refused a text from ${from}: ${r.status()} ${await r.text()}`);
  return r.json();
}

/** What the simulated phone has received and sent. */
export async function phoneMessages(request, number) {
  const r = await request.get(`${env.base}/simulator/api/inboxes/${env.inbox}/phones/${encodeURIComponent(number)}/messages`);
  check(r.ok(), `the simulator has no history for ${number}: ${r.status()}`);
  return r.json();
}

/** Polls `f` until it returns something truthy (for state outside the page). */
export async function eventually(what, f, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Failure(`${what}: not within ${timeout / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Signs in through the login form and waits for the live connection. */
export async function signIn(page, who, next = "/inbox") {
  await page.goto(`${env.base}/login?next=${encodeURIComponent(next)}`);
  await page.getByLabel("E-mail").fill(who.email);
  await page.getByLabel("Password").fill(env.password);
  await Promise.all([
    page.waitForURL((u) => u.pathname === next.split("?")[0]),
    page.getByRole("button", { name: "Sign in" }).click(),
  ]);
  await waitLive(page);
}

/** Clicks (or taps) something that posts a form and reloads the page, and waits until the new page is live. */
export async function submit(page, locator, { tap = false } = {}) {
  const loaded = page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT * 2 });
  await (tap ? locator.tap() : locator.click());
  await loaded;
  await waitLive(page);
}

/** The page's event stream is connected (the top bar says "● Live"). */
export async function waitLive(page) {
  await page.locator("#live-state", { hasText: "Live" }).waitFor({ timeout: TIMEOUT });
  await settled(page);
}

/** The live list and thread show the newest refresh asked for (app.js marks them). */
export async function settled(page) {
  await page.waitForFunction(
    () => !document.body.hasAttribute("data-live-pending") &&
      [...document.querySelectorAll("[data-live-list], [data-live-thread]")].every(
        (el) => el.getAttribute("data-asked") === el.getAttribute("data-shown")),
    null,
    { timeout: TIMEOUT },
  );
}

/** The list row of a contact (by number, shown as the row's name or title). */
export function row(page, number) {
  return page.locator(`#list .row:has(.name[title="${number}"])`);
}

/** Marks the document so a later check can tell the page was not reloaded. */
export async function markDocument(page) {
  await page.evaluate(() => { window.__e2eMark = "still here"; });
}
export async function assertNotReloaded(page, what) {
  const mark = await page.evaluate(() => window.__e2eMark);
  check(mark === "still here", `${what}: the page was reloaded, but it should update live`);
}

/** No part of the page is wider than the screen. */
export async function assertNoHorizontalScroll(page, what) {
  const dims = await page.evaluate(() => {
    const d = document.documentElement;
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => {
        const r = e.getBoundingClientRect();
        // Not what a closed <details> or a hidden element keeps out of sight.
        const seen = e.checkVisibility ? e.checkVisibility({ contentVisibilityAuto: true, visibilityProperty: true }) : true;
        return seen && r.width > 0 && r.right > d.clientWidth + 1 && getComputedStyle(e).position !== "fixed";
      })
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string" ? "." + e.className.trim().split(/\s+/).join(".") : ""} (right edge ${Math.round(e.getBoundingClientRect().right)})`);
    return { scroll: d.scrollWidth, client: d.clientWidth, wide };
  });
  check(
    dims.scroll <= dims.client && dims.wide.length === 0,
    `${what}: the page scrolls sideways (content ${dims.scroll}px wide on a ${dims.client}px screen); too wide: ${dims.wide.join(", ") || "?"}`,
  );
}

export async function screenshot(page, name) {
  mkdirSync(env.screenshots, { recursive: true });
  const path = join(env.screenshots, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** A conversation page's pieces. */
export function thread(page) {
  return {
    composer: page.locator("#composer"),
    body: page.locator("#composer textarea[name=body]"),
    meta: page.locator("#composer-meta"),
    count: page.locator("#composer-meta .count"),
    send: page.locator("#composer button[type=submit]"),
    messages: page.locator("#messages"),
    bubble: (text) => page.locator("#messages .msg", { has: page.locator(".bubble", { hasText: text }) }),
    event: (text) => page.locator("#messages .event", { hasText: text }),
    status: page.locator(".thread-head .sub .badge[class*=status-]"),
    panel: page.locator(".contact-panel"),
  };
}

export async function openConversation(page, id) {
  await page.goto(`${env.base}/conversations/${id}`);
  await waitLive(page);
}

/** The counter line once it says `text`. */
export async function countSays(page, text) {
  await page.locator("#composer-meta .count", { hasText: text }).waitFor({ timeout: TIMEOUT });
}
