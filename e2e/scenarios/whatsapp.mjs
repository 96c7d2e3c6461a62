// WhatsApp's 24-hour window: an agent opens a WhatsApp conversation whose
// customer last wrote 25 hours ago (seeded by browser.rs through the fake
// Graph API). Free text is refused with the reason and the template picker is
// open; the agent fills the template's variables, watches the preview, and
// sends it; it goes to the fake and shows in the thread. Then the same page on
// a phone (390 px), where a template with a header file and button values is
// filled in: every field labelled, on the screen, large enough to tap, and the
// template sent from there.
import { env, check, signIn, submit, thread, openConversation, assertNoHorizontalScroll, screenshot, eventually } from "../lib.mjs";

const conversation = process.env.TEXTDESK_WA_CONVERSATION;
const inbox = process.env.TEXTDESK_WA_INBOX;

export const scenarios = [
  {
    name: "whatsapp-window-template",
    async run({ newContext }) {
      check(conversation, "TEXTDESK_WA_CONVERSATION is set by browser.rs");
      const page = await (await newContext()).newPage();
      await signIn(page, env.agent);
      await openConversation(page, conversation);
      const th = thread(page);
      await th.bubble("Can I move my cleaning?").waitFor();
      const note = page.locator("#window-note");
      check((await note.textContent()).includes("The 24-hour reply window closed at"), "the closed window is said in words");
      check(await page.locator("#template-picker").evaluate((d) => d.open), "the picker is open when only a template can go");

      // Free text is refused, with the reason (the composer says so as it is typed, and again on Send); the picker is still offered.
      await th.body.fill("Sure, does Tuesday work?");
      await th.meta.getByText("approved template").waitFor();
      await th.send.click();
      await page.locator("#flash, .flash.error, [role=alert]", { hasText: "approved template" }).first().waitFor();
      check((await th.bubble("Sure, does Tuesday work?").count()) === 0, "nothing was sent");
      check(await page.locator("#template-picker").evaluate((d) => d.open), "the refusal offers the picker");

      // The agent fills the template's variables and sees the message as it will go.
      const form = page.locator("form[data-template-form]", { hasText: "visit_reminder" });
      await form.getByLabel("Value for {{1}}").fill("Kerry");
      await form.getByLabel("Value for {{2}}").fill("Tuesday at 9:00");
      await form.locator(".template-preview", { hasText: "Hi Kerry, your visit is on Tuesday at 9:00." }).waitFor();
      await assertNoHorizontalScroll(page, "the template picker at 1280 px");
      await screenshot(page, "whatsapp-template-1280");
      await submit(page, form.getByRole("button", { name: "Send template" }));
      const sent = th.bubble("Hi Kerry, your visit is on Tuesday at 9:00.");
      await sent.waitFor();
      check((await sent.textContent()).includes("template visit_reminder"), "the thread says it went as a template");
      await eventually("the template reaches WhatsApp", async () => (await sent.locator("[data-status]").textContent()).includes("Sent"));
      await screenshot(page, "whatsapp-sent-1280");

      // The same conversation on a phone.
      const phone = await (await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.agent);
      await openConversation(phone, conversation);
      await phone.locator("#window-note").waitFor();
      await phone.locator("#template-picker").evaluate((d) => { d.open = true; });
      await assertNoHorizontalScroll(phone, "the WhatsApp conversation at 390 px");
      const picker = await phone.locator("#template-picker").boundingBox();
      check(picker && picker.height >= 0.34 * 844, `only a template can go, so the picker gets the room on a phone (${Math.round(picker?.height)} px of 844)`);
      await screenshot(phone, "whatsapp-390");

      // A template with a header file and button values, filled in on the phone.
      const order = phone.locator("form[data-template-form]", { hasText: "order_ready" });
      const fields = [
        [order.getByLabel("Link to the header file (a document, public https address)"), "https://files.example/orders/A-17.pdf"],
        [order.getByLabel("Value for {{1}}"), "Kerry"],
        [order.getByLabel("Value for {{2}}"), "A-17"],
        [order.getByLabel("Payload of the “Pick up today” button (optional, comes back when tapped)"), ""],
        [order.getByLabel(/^Ending of the address of the “Track your parcel” button/), "A-17"],
      ];
      for (const [field, value] of fields) {
        await field.scrollIntoViewIfNeeded();
        const box = await field.boundingBox();
        check(box && box.x >= 0 && box.x + box.width <= 390 && box.height >= 32, `a template field at 390 px is on the screen and tall enough to tap (${JSON.stringify(box)})`);
        if (value) await field.fill(value);
      }
      const labels = await order.locator("label").evaluateAll((ls) => ls.map((l) => {
        const r = l.getBoundingClientRect();
        return { text: l.textContent, right: r.right, scrolls: l.scrollWidth > l.clientWidth + 1 };
      }));
      for (const l of labels) check(l.right <= 390 && !l.scrolls, `the label "${l.text}" fits the 390 px screen`);
      await order.locator(".template-preview", { hasText: "Hi Kerry, your order A-17 is ready." }).waitFor();
      await assertNoHorizontalScroll(phone, "the template picker's header and button fields at 390 px");
      await screenshot(phone, "whatsapp-template-fields-390");
      const sendIt = order.getByRole("button", { name: "Send template" });
      await sendIt.scrollIntoViewIfNeeded();
      const button = await sendIt.boundingBox();
      check(button && button.y >= 0 && button.y + button.height <= 844, "Send template can be reached on the phone");
      await submit(phone, sendIt, { tap: true });
      await thread(phone).bubble("Hi Kerry, your order A-17 is ready.").waitFor();
      await screenshot(phone, "whatsapp-template-sent-390");
    },
  },
  {
    name: "whatsapp-settings",
    async run({ newContext }) {
      check(inbox, "TEXTDESK_WA_INBOX is set by browser.rs");
      for (const [width, height, name] of [[1280, 800, "whatsapp-settings-1280"], [390, 844, "whatsapp-settings-390"]]) {
        const page = await (await newContext({ viewport: { width, height } })).newPage();
        await signIn(page, env.admin);
        // Settings pages have no live connection: plain navigation.
        await page.goto(`${env.base}/settings/inboxes/${inbox}`);
        // The callback URL to paste in Meta's console, with its Copy button, and the synced templates.
        const url = page.getByLabel("Callback URL");
        check((await url.inputValue()).endsWith(`/webhooks/whatsapp/${inbox}`), "the callback URL is shown");
        await page.locator("#webhooks button[data-copy]").waitFor();
        await page.locator("#webhooks", { hasText: "verify token" }).waitFor();
        const templates = page.locator("#templates");
        await templates.locator("td", { hasText: "visit_reminder" }).waitFor();
        await templates.locator(".badge", { hasText: "rejected" }).waitFor();
        await Promise.all([page.waitForNavigation({ waitUntil: "load" }), templates.getByRole("button", { name: "Sync templates" }).click()]);
        await page.locator("#templates [role=status]", { hasText: "Synced: 3 templates" }).waitFor();
        await assertNoHorizontalScroll(page, `the WhatsApp inbox settings at ${width} px`);
        await templates.scrollIntoViewIfNeeded();
        await screenshot(page, name);
      }
    },
  },
];
