// Routing as a support floor meets it: an admin makes a team that hands its
// conversations to the least busy member online, a rule sends refund texts to
// it, an agent says they are online from the top bar, and a customer's text
// lands in that agent's "Mine" live, with the reason in the timeline.
import { env, check, customerNumber, textIn, signIn, screenshot, assertNoHorizontalScroll, row, thread, openConversation } from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

async function go(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), locator.click()]);
}

export const scenarios = [
  {
    name: "routing-least-busy-online",
    async run({ newContext }) {
      const admin = await (await newContext()).newPage();
      await signIn(admin, env.admin);
      await admin.goto(`${env.base}/settings/users`);
      await admin.getByLabel("New team").fill("Refunds desk");
      await go(admin, admin.getByRole("button", { name: "Create team" }));
      const team = admin.locator("section.team", { has: admin.getByRole("heading", { name: "Refunds desk" }) });
      const agentName = env.agent.name || env.agent.email;
      await team.getByLabel("Add to Refunds desk").selectOption({ label: agentName });
      await go(admin, team.getByRole("button", { name: "Add", exact: true }));
      await team.getByLabel("Give its conversations").selectOption("least_busy");
      await team.getByLabel(/At most, each/).fill("200");
      await go(admin, team.getByRole("button", { name: /Save/ }));
      check((await team.getByLabel("Give its conversations").inputValue()) === "least_busy", "the team's way of assigning is saved");
      await screenshot(admin, "routing-team");

      // A rule sends refund texts to the team.
      await admin.goto(`${env.base}/settings/automations/new`);
      const form = admin.locator("#rule-form");
      await form.getByLabel(/^Name/).fill("Refunds to the desk");
      await admin.locator("select[name=text_test]").selectOption("contains");
      await form.getByLabel(/^Words/).fill("refund");
      await admin.locator("select[name=assign_team]").selectOption({ label: "Refunds desk" });
      await go(admin, admin.locator("#save-rule"));
      await admin.getByRole("heading", { name: "Refunds to the desk" }).waitFor();

      // The agent says they are online, from the top bar.
      const agent = await (await newContext()).newPage();
      await signIn(agent, env.agent, "/inbox?view=mine");
      await Promise.all([agent.waitForNavigation({ waitUntil: "load" }), agent.locator("#presence").selectOption("online")]);
      check((await agent.locator("#presence").inputValue()) === "online", "the top bar says online");

      const number = customerNumber();
      const { conversation_id: id } = await textIn(agent.request, number, "I would like a refund for my last visit");
      await row(agent, number).waitFor({ timeout: 15_000 });
      await screenshot(agent, "routing-mine");
      await openConversation(agent, id);
      await thread(agent).event("the least busy in the team Refunds desk").waitFor();

      const phone = await (await newContext({ viewport: PHONE_390 })).newPage();
      await signIn(phone, env.agent);
      await assertNoHorizontalScroll(phone, "the inbox with the presence select at 390 px");
      await screenshot(phone, "routing-topbar-390");
      const adminPhone = await (await newContext({ viewport: PHONE_390 })).newPage();
      await signIn(adminPhone, env.admin);
      await adminPhone.goto(`${env.base}/settings/users`);
      await assertNoHorizontalScroll(adminPhone, "people and teams at 390 px");
      await adminPhone.screenshot({ path: `${env.screenshots}/routing-people-390.png`, fullPage: true });
    },
  },
];
