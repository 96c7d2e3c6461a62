// Answering on another channel the customer uses: a customer wrote on
// WhatsApp an hour ago and by SMS just now (seeded by browser.rs). In the SMS
// conversation the composer offers both channels, the agent picks WhatsApp,
// the preview has no objection, the reply goes to the fake Graph API, and
// every message carries a badge naming its channel. Then the same page on a
// phone (390 px).
import { env, check, signIn, thread, openConversation, assertNoHorizontalScroll, screenshot, eventually } from "../lib.mjs";

const conversation = process.env.TEXTDESK_REACH_CONVERSATION;
const waInbox = process.env.TEXTDESK_WA_INBOX;

export const scenarios = [
  {
    name: "reach-another-channel",
    async run({ newContext }) {
      check(conversation && waInbox, "TEXTDESK_REACH_CONVERSATION and TEXTDESK_WA_INBOX are set by browser.rs");
      const page = await (await newContext()).newPage();
      await signIn(page, env.agent);
      await openConversation(page, conversation);
      const th = thread(page);
      const sms = th.bubble("Texting too: is my crown ready?");
      await sms.waitFor();
      check((await sms.locator("[data-channel]").textContent()).trim() === "SMS", "the SMS message says SMS");
      // The picker offers both channels, the one they last wrote on chosen.
      const via = page.locator("#via");
      await via.waitFor();
      // The SMS numbers (the simulator's and Twilio's) and WhatsApp.
      check((await via.locator(`option[value="${waInbox}"]`).count()) === 1, "WhatsApp is offered");
      check((await via.locator("option").count()) >= 2, "more than one channel reaches this customer");
      check((await via.locator("option:checked").textContent()).startsWith("SMS"), "the channel they last wrote on is chosen");
      await via.selectOption(waInbox);
      await th.body.fill("Yes, it is ready: come by at 3.");
      await th.count.waitFor();
      check((await th.meta.locator(".verdict.block").count()) === 0, "WhatsApp's window is open: nothing in the way");
      await assertNoHorizontalScroll(page, "the composer with its channel picker at 1280 px");
      await screenshot(page, "reach-picker-1280");
      await th.send.click();
      const sent = th.bubble("Yes, it is ready: come by at 3.");
      await sent.waitFor();
      check((await sent.locator("[data-channel]").textContent()).trim() === "WhatsApp", "the reply says WhatsApp");
      await th.event("WhatsApp").first().waitFor();
      await eventually("the reply reaches WhatsApp", async () => (await sent.locator("[data-status]").textContent()).includes("Sent"));
      await screenshot(page, "reach-sent-1280");

      // The same conversation on a phone.
      const phone = await (await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.agent);
      await openConversation(phone, conversation);
      await phone.locator("#via").waitFor();
      await thread(phone).bubble("Yes, it is ready: come by at 3.").locator("[data-channel]").waitFor();
      await assertNoHorizontalScroll(phone, "the conversation with its channel badges and picker at 390 px");
      await screenshot(phone, "reach-390");
    },
  },
];
