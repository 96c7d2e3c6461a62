// A call from the demo: an agent clicks "Call the customer" in a simulator
// conversation; the simulated phone rings on the simulator page, the customer
// answers and later hangs up; the agent's thread shows the call as it goes and
// its duration, live. Then a call back is queued from the same menu and shown
// in the call back queue. At 1280 and 390 px.
import { middayZone, env, check, customerNumber, textIn, signIn, submit, screenshot, assertNoHorizontalScroll, thread, openConversation } from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

async function openPhone(context, number, viewport) {
  const phone = await (await context({ viewport })).newPage();
  await phone.goto(`${env.base}/simulator`);
  await phone.locator("#sim-inbox option").first().waitFor({ state: "attached" });
  await phone.getByLabel("Your phone number").fill(number);
  await phone.getByLabel("Your phone number").dispatchEvent("change");
  return phone;
}

export const scenarios = [
  {
    name: "voice-call-from-the-demo",
    async run({ newContext }) {
      const number = customerNumber();
      const agent = await (await newContext()).newPage();
      await signIn(agent, env.agent);
      const { conversation_id: id } = await textIn(agent.request, number, "Could someone call me about my crown?");
      const phone = await openPhone(newContext, number, PHONE_390);
      await phone.locator("#phone-msgs .from_phone", { hasText: "call me about my crown" }).waitFor();
      await openConversation(agent, id);
      // Midday for the customer: the call is not in their quiet hours, whenever this runs.
      await agent.locator("#contact-zone").fill(middayZone());
      await submit(agent, agent.locator(".contact-edit").getByRole("button", { name: "Save" }));

      await agent.locator(".escalate-picker > summary").click();
      await agent.locator("#escalate-call").waitFor();
      await screenshot(agent, "voice-menu");
      await submit(agent, agent.locator("#escalate-call").getByRole("button", { name: "Call the customer" }));
      await thread(agent).event("called the customer").waitFor();

      // The simulated phone rings; the customer answers.
      const call = phone.locator("#phone-call");
      await call.waitFor({ state: "visible", timeout: 15_000 });
      check((await phone.locator("#call-from").innerText()).startsWith("+1"), "the phone shows the business's number calling");
      await screenshot(phone, "voice-ringing-390");
      await thread(agent).event("The phone is ringing").waitFor({ timeout: 15_000 });
      await phone.getByRole("button", { name: "Answer" }).click();
      await phone.locator("#call-state", { hasText: "On the call" }).waitFor();
      await thread(agent).event("The call was answered").waitFor({ timeout: 15_000 });
      await screenshot(phone, "voice-on-the-call-390");
      await phone.waitForTimeout(2200);
      await phone.getByRole("button", { name: "Hang up" }).click();
      await call.waitFor({ state: "hidden" });

      // The agent's thread, live: the call with its duration.
      const ended = thread(agent).event("The call ended after");
      await ended.waitFor({ timeout: 15_000 });
      const words = await ended.innerText();
      check(/ended after \d+ s/.test(words), `the thread says how long: ${words}`);
      await screenshot(agent, "voice-thread");

      // A call back from the same menu, on the customer's clock; the queue shows it.
      await agent.locator(".escalate-picker > summary").click();
      const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString().slice(0, 10);
      await agent.locator("#escalate-callback-at").fill(`${tomorrow}T10:30`);
      await submit(agent, agent.locator("#escalate-callback").getByRole("button", { name: "Queue the call back" }));
      await thread(agent).event("asked for a call back").waitFor();
      await agent.goto(`${env.base}/callbacks`);
      const item = agent.locator(".callback", { has: agent.locator(`a[href="/conversations/${id}"]`) });
      await item.waitFor();
      await screenshot(agent, "voice-callbacks");
      await submit(agent, item.getByRole("button", { name: "Take" }));
      check(new URL(agent.url()).pathname === `/conversations/${id}`, "taking it opens the conversation");

      // At 390 px: the thread with the call, and the queue.
      const small = await (await newContext({ viewport: PHONE_390 })).newPage();
      await signIn(small, env.agent);
      await openConversation(small, id);
      await thread(small).event("The call ended after").waitFor();
      await assertNoHorizontalScroll(small, "the thread with a call at 390 px");
      await screenshot(small, "voice-thread-390");
      await small.goto(`${env.base}/callbacks`);
      await small.locator(".callback").first().waitFor();
      await assertNoHorizontalScroll(small, "the call back queue at 390 px");
      await screenshot(small, "voice-callbacks-390");
    },
  },
];
