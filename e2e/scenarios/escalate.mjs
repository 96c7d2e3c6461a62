// Escalation as a floor meets it: an agent escalates an angry customer to a
// supervisor from the conversation's Escalate menu, keeping the conversation;
// the supervisor, with the inbox open in another browser, is alerted live (no
// reload), opens it from the alert, and finds it in their Escalated view with
// the reason in the timeline. At 1280 and 390 px.
import { env, check, customerNumber, textIn, signIn, submit, screenshot, assertNoHorizontalScroll, assertNotReloaded, markDocument, thread, openConversation, row } from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

export const scenarios = [
  {
    name: "escalate-to-a-supervisor-live",
    async run({ newContext }) {
      // The supervisor's inbox is open first.
      const lead = await (await newContext()).newPage();
      await signIn(lead, env.supervisor, "/inbox");
      await markDocument(lead);

      const agent = await (await newContext()).newPage();
      await signIn(agent, env.agent);
      const number = customerNumber();
      const { conversation_id: id } = await textIn(agent.request, number, "This is the third time my bill is wrong. I want a manager.");
      await openConversation(agent, id);
      await submit(agent, agent.getByRole("button", { name: "Assign to me" }));
      await agent.locator(".escalate-picker > summary").click();
      const form = agent.locator("#escalate-supervisor");
      await form.getByLabel("Supervisor", { exact: true }).selectOption({ label: env.supervisor.name });
      await form.getByLabel("Reason").fill("Billed wrong three times; asks for a manager");
      await form.getByLabel(`Keep it assigned to ${env.agent.name}; the supervisor watches`).check();
      await screenshot(agent, "escalate-menu");
      await submit(agent, form.getByRole("button", { name: "Escalate to supervisor" }));
      await thread(agent).event("escalated this to a supervisor").waitFor();
      check(await agent.locator(".thread-head .badge.prio-urgent").isVisible(), "the conversation is urgent now");
      check((await agent.locator("#assignee").inputValue()) !== "none", "the agent keeps it");
      await screenshot(agent, "escalate-thread");

      // The supervisor is alerted where they are, without a reload.
      const alertBox = lead.locator("#escalation-alert");
      await alertBox.waitFor({ state: "visible" });
      const said = await alertBox.innerText();
      check(said.includes(`Escalated: ${number}`) && said.includes("escalated this conversation to you"), `the alert says what and who: ${said}`);
      check(said.includes("Billed wrong three times"), `the alert gives the reason: ${said}`);
      await assertNotReloaded(lead, "the supervisor's inbox");
      await screenshot(lead, "escalate-alert");
      await submit(lead, alertBox.getByRole("link", { name: "Open the conversation" }));
      check(new URL(lead.url()).pathname === `/conversations/${id}`, "the alert opens the conversation");
      await thread(lead).event("Billed wrong three times; asks for a manager").waitFor();

      // Their Escalated view holds it.
      await lead.goto(`${env.base}/inbox?view=escalated`);
      await row(lead, number).waitFor();
      await screenshot(lead, "escalate-view");

      // At 390 px: the menu and the view fit the phone.
      const phone = await (await newContext({ viewport: PHONE_390 })).newPage();
      await signIn(phone, env.agent);
      await openConversation(phone, id);
      // On a phone the thread's actions fold under "Actions".
      if (!(await phone.locator(".actions-menu").evaluate((d) => d.open))) await phone.locator(".actions-menu > summary").click();
      await phone.locator(".escalate-picker > summary").click();
      await phone.locator("#escalate-supervisor").waitFor();
      await assertNoHorizontalScroll(phone, "the Escalate menu at 390 px");
      await screenshot(phone, "escalate-menu-390");
      const leadPhone = await (await newContext({ viewport: PHONE_390 })).newPage();
      await signIn(leadPhone, env.supervisor, "/inbox");
      await leadPhone.goto(`${env.base}/inbox?view=escalated`);
      await row(leadPhone, number).waitFor();
      await assertNoHorizontalScroll(leadPhone, "the Escalated view at 390 px");
      await screenshot(leadPhone, "escalate-view-390");
    },
  },
];
