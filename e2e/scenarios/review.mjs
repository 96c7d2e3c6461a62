// Quality review as a floor meets it: an agent escalates an upset customer; the
// escalation puts the conversation in the supervisors' review queue; a
// supervisor opens it from the queue, reads the conversation beside the
// scorecard, scores it against the rubric with a comment; the agent reads the
// scorecard under "My reviews". At 1280 and 390 px.
import { env, check, customerNumber, textIn, signIn, submit, screenshot, assertNoHorizontalScroll, openConversation, eventually } from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

/** The queue's entry for `number`, once the queue has it (it is filled within a second or two). */
async function queued(page, number) {
  const item = page.locator(".review-item", { hasText: number });
  await eventually(`the review queue lists ${number}`, async () => {
    await page.goto(`${env.base}/reviews`);
    return (await item.count()) > 0;
  });
  return item;
}

/** Follows a link or posts a form on a page without a live stream (reviews are not live). */
async function follow(page, locator) {
  const loaded = page.waitForNavigation({ waitUntil: "load" });
  await locator.click();
  await loaded;
}

let shared = null;

async function escalated(newContext) {
  if (shared) return shared;
  const agent = await (await newContext()).newPage();
  await signIn(agent, env.agent);
  const number = customerNumber();
  const { conversation_id: id } = await textIn(agent.request, number, "Third wrong bill this year. I am done with you people.");
  await openConversation(agent, id);
  await submit(agent, agent.getByRole("button", { name: "Assign to me" }));
  await agent.locator(".escalate-picker > summary").click();
  const form = agent.locator("#escalate-supervisor");
  await form.getByLabel("Supervisor", { exact: true }).selectOption({ label: env.supervisor.name });
  await form.getByLabel("Reason").fill("Upset about billing");
  await submit(agent, form.getByRole("button", { name: "Escalate to supervisor" }));
  shared = { number, id };
  return shared;
}

export const scenarios = [
  {
    name: "review-queue-and-scorecard",
    async run({ newContext }) {
      const { number } = await escalated(newContext);
      const lead = await (await newContext()).newPage();
      await signIn(lead, env.supervisor);
      const item = await queued(lead, number);
      check((await item.innerText()).includes("Escalated"), "the queue says why it is there");
      await assertNoHorizontalScroll(lead, "the review queue at 1280 px");
      await screenshot(lead, "review-queue");

      await follow(lead, item.locator("a.review-link"));
      check(new URL(lead.url()).pathname.startsWith("/reviews/"), `the scorecard opens, not ${lead.url()}`);
      await lead.getByText("Third wrong bill this year").waitFor();
      const criteria = lead.locator("#score-form fieldset.criterion");
      check((await criteria.count()) === 5, "the default rubric's five criteria");
      for (const [n, score] of [[0, "4"], [1, "2"], [2, "5"], [3, "4"], [4, "3"]]) {
        await lead.locator(`#score-form input[name=score_${n}][value="${score}"]`).check();
      }
      await lead.getByLabel(/Comment for the agent/).fill("Good that you escalated. Keep the tone calm even when they are not.");
      await screenshot(lead, "review-scorecard-filling");
      await follow(lead, lead.getByRole("button", { name: "Save the scorecard" }));
      await lead.locator("#review-saved").waitFor();
      // (3×3 + 2×1 + 2×4 + 1×3 + 2×2) / (10×4) = 26/40 = 65%.
      check((await lead.locator("#review-overall").innerText()).includes("65%"), "the overall weighs the rubric");
      await assertNoHorizontalScroll(lead, "the scorecard at 1280 px");
      await screenshot(lead, "review-scorecard");

      // The agent reads it under My reviews.
      const agent = await (await newContext()).newPage();
      await signIn(agent, env.agent);
      await agent.goto(`${env.base}/reviews/mine`);
      const mine = agent.locator(".review-item", { hasText: number });
      await mine.waitFor();
      check((await mine.innerText()).includes("Keep the tone calm"), "the agent sees the comment");
      check((await mine.innerText()).includes("65%"), "and the overall");
      await screenshot(agent, "review-mine");
      // The queue is not theirs.
      const r = await agent.request.get(`${env.base}/reviews`);
      check(r.status() === 403, `the queue is for supervisors: ${r.status()}`);
    },
  },
  {
    name: "review-phone",
    async run({ newContext }) {
      const { number } = await escalated(newContext);
      const lead = await (await newContext({ viewport: PHONE_390, isMobile: true, hasTouch: true })).newPage();
      await signIn(lead, env.supervisor);
      await lead.goto(`${env.base}/reviews?state=scored`);
      let item = lead.locator(".review-item", { hasText: number });
      if ((await item.count()) === 0) item = await queued(lead, number);
      await assertNoHorizontalScroll(lead, "the review list at 390 px");
      await screenshot(lead, "review-queue-390");
      await follow(lead, item.locator("a.review-link"));
      await lead.locator("#scorecard").waitFor();
      await assertNoHorizontalScroll(lead, "the scorecard at 390 px");
      await screenshot(lead, "review-scorecard-390");
      const agent = await (await newContext({ viewport: PHONE_390, isMobile: true, hasTouch: true })).newPage();
      await signIn(agent, env.agent);
      await agent.goto(`${env.base}/reviews/mine`);
      await assertNoHorizontalScroll(agent, "My reviews at 390 px");
      await screenshot(agent, "review-mine-390");
    },
  },
];
