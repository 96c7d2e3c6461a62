// Self-service as a business meets it: an admin builds a menu on
// /settings/flows with forms (no JSON) whose way to a person goes to a team
// that hands out to the least busy, a rule starts it when a text says "menu",
// a customer uses it on the simulator page and asks for a person, and the
// team's agent, online from the top bar, gets the conversation live in "Mine"
// (it was in nobody's queue while the bot had it), with the reason in the
// timeline and the bot's exchange marked automatic above their reply.
import {
  env, check, customerNumber, signIn, screenshot, assertNoHorizontalScroll, row, thread, openConversation, waitLive,
} from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

async function go(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), locator.click()]);
}

export const scenarios = [
  {
    name: "flows-menu-then-a-person",
    async run({ newContext }) {
      const admin = await (await newContext()).newPage();
      await signIn(admin, env.admin);

      // A team for the customers the bot hands over: the agent is in it, and it gives to the least busy.
      await admin.goto(`${env.base}/settings/users`);
      await admin.getByLabel("New team").fill("Self-service desk");
      await go(admin, admin.getByRole("button", { name: "Create team" }));
      const team = admin.locator("section.team", { has: admin.getByRole("heading", { name: "Self-service desk" }) });
      await team.getByLabel("Add to Self-service desk").selectOption({ label: env.agent.name || env.agent.email });
      await go(admin, team.getByRole("button", { name: "Add", exact: true }));
      await team.getByLabel("Give its conversations").selectOption("least_busy");
      await team.getByLabel(/At most, each/).fill("200");
      await go(admin, team.getByRole("button", { name: /Save/ }));

      await admin.goto(`${env.base}/settings/flows`);
      await admin.getByRole("heading", { name: "Self-service flows", level: 1 }).waitFor();

      // A flow from its name: a first menu offering a person and a call back.
      await admin.locator("#flow-new").getByLabel(/^Name/).fill("Front desk");
      await go(admin, admin.locator("#flow-create"));
      await admin.locator("#flow-flash").waitFor();
      const first = admin.locator("#step-0");
      await first.locator("textarea[name=text]").fill("Hi! Reply with a number.");
      const keys = first.locator("input[name=key]");
      const labels = first.locator("input[name=label]");
      const replies = first.locator("input[name=reply]");
      // Row 0 is "0: A person" (sent to the team), row 1 "1: A call back"; rows 2 and 3 are blank, to add choices.
      await first.locator("select[name=then]").nth(0).selectOption({ label: "a person in Self-service desk" });
      await keys.nth(2).fill("2");
      await labels.nth(2).fill("Opening hours");
      await replies.nth(2).fill("We are open 9 to 5, Monday to Friday.");
      await go(admin, first.getByRole("button", { name: /Save step/ }));
      await admin.locator("#flow-flash").waitFor();
      await admin.locator("#step-0 details summary").click();
      const preview = await admin.locator("#step-0 pre").innerText();
      check(preview.includes("0: A person") && preview.includes("1: A call back") && preview.includes("2: Opening hours"), `the menu the customer reads: ${preview}`);

      // Taking the way to a person out is refused, with the reason.
      await admin.locator("#step-0 input[name=key]").nth(0).fill("");
      await go(admin, admin.locator("#step-0").getByRole("button", { name: /Save step/ }));
      await admin.getByRole("alert").filter({ hasText: "every menu offers a way to a person" }).waitFor();
      await admin.goto(`${env.base}/settings/flows`);
      await admin.locator("#flows").getByRole("cell", { name: "Front desk", exact: true }).waitFor();
      await screenshot(admin, "flows-list");
      await go(admin, admin.getByRole("link", { name: "Edit Front desk" }));
      const flowUrl = admin.url();
      await screenshot(admin, "flows-edit");

      // A rule starts it when a customer's text says "menu".
      await admin.goto(`${env.base}/settings/automations/new`);
      const form = admin.locator("#rule-form");
      await form.getByLabel(/^Name/).fill("Menu on request");
      await admin.locator("select[name=text_test]").selectOption("contains");
      await form.getByLabel(/^Words/).fill("menu");
      await admin.locator("select[name=start_flow]").selectOption({ label: "Front desk" });
      await go(admin, admin.locator("#save-rule"));
      const rule = admin.locator(".rule", { has: admin.getByRole("heading", { name: "Menu on request" }) });
      await rule.getByText("start the self-service flow \u201cFront desk\u201d").waitFor();

      // The team's agent says they are online from the top bar, and watches their own queue.
      const agent = await (await newContext()).newPage();
      await signIn(agent, env.agent, "/inbox?view=mine");
      await Promise.all([agent.waitForNavigation({ waitUntil: "load" }), agent.locator("#presence").selectOption("online")]);
      check((await agent.locator("#presence").inputValue()) === "online", "the top bar says online");
      await waitLive(agent);

      // The customer uses the phone simulator.
      const number = customerNumber();
      const phone = await (await newContext()).newPage();
      await phone.goto(`${env.base}/simulator`);
      await phone.locator("#sim-inbox option").first().waitFor({ state: "attached" });
      await phone.getByLabel("Your phone number").fill(number);
      const text = async (body) => {
        await phone.getByLabel("Text message").fill(body);
        await phone.getByRole("button", { name: "Send" }).click();
        await phone.locator("#phone-msgs .from_phone", { hasText: body }).last().waitFor();
      };
      await text("Can I see the menu?");
      await phone.locator("#phone-msgs .to_phone", { hasText: "2: Opening hours" }).waitFor({ timeout: 15_000 });
      await text("2");
      await phone.locator("#phone-msgs .to_phone", { hasText: "We are open 9 to 5" }).waitFor({ timeout: 15_000 });
      check((await row(agent, number).count()) === 0, "while the bot answers, the customer is in nobody's queue");

      await text("menu again please");
      await phone.locator("#phone-msgs .to_phone", { hasText: "2: Opening hours" }).nth(1).waitFor({ timeout: 15_000 });
      await text("0");
      await phone.locator("#phone-msgs .to_phone", { hasText: "a person will answer you here" }).waitFor({ timeout: 15_000 });
      await phone.bringToFront();
      await screenshot(phone, "flows-simulator");

      // The team gives it to the agent, who gets it live in "Mine", and sees why and the bot's exchange above their reply.
      await row(agent, number).waitFor({ timeout: 15_000 });
      await screenshot(agent, "flows-mine");
      const id = Number((await row(agent, number).locator("a").first().getAttribute("href")).match(/\d+/)[0]);
      await openConversation(agent, id);
      const th = thread(agent);
      await th.event("The bot handed over to a person").waitFor();
      await th.event("the least busy in the team Self-service desk").waitFor();
      const menu = th.bubble("2: Opening hours").first();
      check((await menu.locator(".author").innerText()).includes("Automatic"), "the bot's messages are marked automatic");
      await th.body.fill("Hi, Dana here. How can I help?");
      await th.body.press("Enter");
      await th.bubble("Dana here").waitFor();
      await agent.bringToFront();
      await screenshot(agent, "flows-handed-over");

      // The phone width: the flow editor and the thread fit.
      const small = await (await newContext({ viewport: PHONE_390 })).newPage();
      await signIn(small, env.admin);
      await small.goto(flowUrl);
      await assertNoHorizontalScroll(small, "the flow editor at 390 px");
      await small.screenshot({ path: `${env.screenshots}/flows-edit-390.png`, fullPage: true });
      const agentSmall = await (await newContext({ viewport: PHONE_390 })).newPage();
      await signIn(agentSmall, env.agent);
      await openConversation(agentSmall, id);
      await assertNoHorizontalScroll(agentSmall, "the handed-over thread at 390 px");
      await screenshot(agentSmall, "flows-handed-over-390");

      // The account's routing options, in words and minutes, at both widths.
      await admin.goto(`${env.base}/settings/account#routing`);
      await admin.locator("#routing").getByRole("button", { name: "Save routing" }).waitFor();
      await admin.locator("#routing").scrollIntoViewIfNeeded();
      await screenshot(admin, "account-routing");
      await small.goto(`${env.base}/settings/account#routing`);
      await assertNoHorizontalScroll(small, "the account page with routing at 390 px");
      await small.locator("#routing").screenshot({ path: `${env.screenshots}/account-routing-390.png` });

      // The rule goes off again, so later scenarios' texts meet no bot.
      await admin.goto(`${env.base}/settings/automations`);
      await go(admin, rule.getByRole("button", { name: /Switch off/ }));
    },
  },
];
