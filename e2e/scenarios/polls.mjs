// Satisfaction polls as a business meets them: the admin switches the poll on
// in the inbox's settings; a customer who opted in is helped and the
// conversation resolved; the poll reaches their phone; they answer 1, and the
// supervisor, with the inbox open, is alerted live and opens the conversation,
// where the timeline says the score. At 1280 and 390 px. The poll is switched
// off again at the end so later scenarios' resolves poll nobody.
import { middayZone, submit, env, check, customerNumber, textIn, phoneMessages, eventually, signIn, screenshot, assertNoHorizontalScroll, assertNotReloaded, markDocument, thread, openConversation } from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

async function savePoll(page, on) {
  await page.goto(`${env.base}/settings/inboxes/${env.inbox}#survey`);
  const form = page.locator("form#survey");
  const box = form.getByLabel("Send a poll after a conversation is resolved");
  if (on) await box.check(); else await box.uncheck();
  await form.getByLabel("Minutes after resolving").fill("0");
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), form.getByRole("button", { name: "Save poll" }).click()]);
  await page.locator("form#survey .flash.ok", { hasText: "Satisfaction poll saved." }).waitFor();
}

export const scenarios = [
  {
    name: "poll-after-resolve-low-score-alert",
    async run({ newContext }) {
      const admin = await (await newContext()).newPage();
      await signIn(admin, env.admin);
      await savePoll(admin, true);
      await admin.locator("form#survey").scrollIntoViewIfNeeded();
      await screenshot(admin, "poll-settings");

      try {
        const lead = await (await newContext()).newPage();
        await signIn(lead, env.supervisor, "/inbox");
        await markDocument(lead);

        // A customer opts in by keyword, asks, is answered and resolved.
        const agent = await (await newContext()).newPage();
        await signIn(agent, env.agent);
        const number = customerNumber();
        await textIn(agent.request, number, "START");
        const { conversation_id: id } = await textIn(agent.request, number, "Has my parcel left the warehouse?");
        await openConversation(agent, id);
        // Midday for the customer: the poll is business-initiated, and quiet hours would hold it at night.
        await agent.locator("#contact-zone").fill(middayZone());
        await submit(agent, agent.locator(".contact-edit").getByRole("button", { name: "Save" }));
        await thread(agent).body.fill("Yes, it left this morning and arrives tomorrow.");
        await thread(agent).send.click();
        await thread(agent).bubble("arrives tomorrow").waitFor();
        // Resolving goes on to the next conversation of the list.
        await Promise.all([
          agent.waitForURL((u) => u.pathname !== `/conversations/${id}`),
          agent.getByRole("button", { name: "Resolve" }).click(),
        ]);

        // Housekeeping sends the poll (it runs every 15 s).
        await eventually("the poll on the customer's phone", async () =>
          (await phoneMessages(agent.request, number)).some((m) => m.direction === "to_phone" && (m.body || "").startsWith("How did we do?")), 40_000);

        // A 1: the supervisor is alerted where they are, without a reload.
        await textIn(agent.request, number, "1");
        const alertBox = lead.locator("#escalation-alert");
        await alertBox.waitFor({ state: "visible", timeout: 20_000 });
        const said = await alertBox.innerText();
        check(said.includes(`Low score: ${number}`) && said.includes("1 of 5"), `the alert says who and the score: ${said}`);
        await assertNotReloaded(lead, "the supervisor's inbox");
        await screenshot(lead, "poll-alert");
        await Promise.all([lead.waitForNavigation({ waitUntil: "load" }), alertBox.getByRole("link", { name: "Open the conversation" }).click()]);
        check(new URL(lead.url()).pathname === `/conversations/${id}`, "the alert opens the conversation");
        await thread(lead).event("Customer answered 1 of 5").waitFor();
        await thread(lead).bubble("Sorry we let you down").waitFor({ timeout: 20_000 });
        await screenshot(lead, "poll-thread");

        // At 390 px: the settings section and the thread fit the phone.
        const phone = await (await newContext({ viewport: PHONE_390 })).newPage();
        await signIn(phone, env.admin);
        await phone.goto(`${env.base}/settings/inboxes/${env.inbox}#survey`);
        await phone.locator("form#survey").scrollIntoViewIfNeeded();
        await assertNoHorizontalScroll(phone, "the poll settings at 390 px");
        await screenshot(phone, "poll-settings-390");
        const leadPhone = await (await newContext({ viewport: PHONE_390 })).newPage();
        await signIn(leadPhone, env.supervisor, "/inbox");
        await openConversation(leadPhone, id);
        await thread(leadPhone).event("Customer answered 1 of 5").waitFor();
        await assertNoHorizontalScroll(leadPhone, "the thread with the poll at 390 px");
        await screenshot(leadPhone, "poll-thread-390");
      } finally {
        await savePoll(admin, false);
      }
    },
  },
];
