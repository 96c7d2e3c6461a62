// Outgoing webhooks in the admin's settings: add one pointing at a receiver
// this script runs on 127.0.0.1 (the test server allows that host), see the
// secret once, watch a customer's text arrive there signed, see the failed
// first attempt in the delivery log, resend it, and see it delivered with
// the same webhook-id. At 1280 and 390 px wide.
import { createServer } from "node:http";

import {
  env, check, customerNumber, textIn, signIn, eventually, screenshot, assertNoHorizontalScroll, TIMEOUT,
} from "../lib.mjs";

/** Follows a link or posts a form (settings pages are not live) and waits for the page that answers. */
async function submit(page, locator) {
  const loaded = page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT * 2 });
  await locator.click();
  await loaded;
}

/** A receiver that answers 500 to the first message.received and 200 to everything else. */
const OWN_TEXT = "Can I move my cleaning to Friday?";

async function receiver() {
  const got = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      // Only this scenario's text: an earlier scenario's text may still reach a new subscription.
      const first = body.includes(OWN_TEXT) && !got.some((g) => g.body.includes(OWN_TEXT));
      got.push({ id: req.headers["webhook-id"], signature: req.headers["webhook-signature"], body });
      res.statusCode = first ? 500 : 200;
      res.end();
    });
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { got, port: server.address().port, close: () => server.close() };
}

export const scenarios = [
  {
    name: "webhooks",
    async run({ newContext }) {
      const rx = await receiver();
      try {
        const ctx = await newContext();
        const page = await ctx.newPage();
        await signIn(page, env.admin);
        await page.goto(`${env.base}/settings/inboxes`);
        await submit(page, page.locator(".settings-nav").getByRole("link", { name: "Webhooks" }));
        check(page.url().endsWith("/settings/webhooks"), `the settings link leads to the webhooks page: ${page.url()}`);

        // A mistake is shown on the form, with what was typed kept.
        await page.getByLabel(/^URL/).fill("http://hooks.example.com/in");
        await submit(page, page.getByRole("button", { name: "Add webhook" }));
        await page.locator("#webhook-error", { hasText: "https://" }).waitFor();
        check((await page.getByLabel(/^URL/).inputValue()) === "http://hooks.example.com/in", "the URL typed is kept");

        const url = `http://127.0.0.1:${rx.port}/hook`;
        await page.getByLabel(/^URL/).fill(url);
        await page.getByLabel(/^Description/).fill("Clinic CRM");
        await page.getByRole("checkbox", { name: "conversation.created" }).check();
        await submit(page, page.getByRole("button", { name: "Add webhook" }));
        const secret = await page.locator("#webhook-secret-value").innerText();
        check(/^whsec_[A-Za-z0-9+/=]{40,}$/.test(secret.trim()), `the secret is shown once: ${secret}`);
        await page.locator(".webhooks-table td.webhook-url", { hasText: url }).waitFor();
        await screenshot(page, "webhooks-added-desktop");
        await page.setViewportSize({ width: 390, height: 844 });
        await assertNoHorizontalScroll(page, "webhooks list at 390 px");
        await screenshot(page, "webhooks-added-phone");
        await page.setViewportSize({ width: 1280, height: 800 });

        // A customer texts: the receiver hears of it (its first answer is 500).
        const number = customerNumber();
        await textIn(page.request, number, OWN_TEXT);
        const first = await eventually("a delivery reaches the receiver", () =>
          rx.got.find((g) => g.body.includes("message.received") && g.body.includes(OWN_TEXT)));
        const payload = JSON.parse(first.body);
        check(payload.data.body === "Can I move my cleaning to Friday?", `the payload carries the text: ${first.body}`);
        check(payload.data.contact_address === number, "and the customer's number");
        check(/^v1,/.test(first.signature) && /^msg_/.test(first.id), "signed, with a webhook-id");

        // The delivery log shows the failed attempt; Resend sends it again now.
        await submit(page, page.getByRole("link", { name: /Edit and deliveries/ }));
        const failed = page.locator("#webhook-log tr", { hasText: "message.received" }).filter({ hasText: "500" });
        await eventually("the log shows the failed attempt", async () => {
          await page.reload();
          return (await failed.count()) > 0;
        });
        await submit(page, failed.getByRole("button", { name: /Resend/ }));
        await page.locator("#webhook-flash", { hasText: "due again" }).waitFor();
        await eventually("the resend arrives with the same id", () =>
          rx.got.filter((g) => g.id === first.id).length >= 2);
        await eventually("the log shows it delivered", async () => {
          await page.reload();
          return (await page.locator("#webhook-log tr[data-state=delivered]", { hasText: "message.received" }).count()) > 0;
        });
        await page.locator("#webhook-log").scrollIntoViewIfNeeded();
        await screenshot(page, "webhook-log-desktop");
        await page.setViewportSize({ width: 390, height: 844 });
        await assertNoHorizontalScroll(page, "webhook delivery log at 390 px");
        await page.locator("#webhook-log").scrollIntoViewIfNeeded();
        await screenshot(page, "webhook-log-phone");
      } finally {
        rx.close();
      }
    },
  },
];
