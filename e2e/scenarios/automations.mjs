// The automations settings screen as an admin meets it: the built-in rules and
// the consent keywords in words, a new rule built with the form (no JSON), a
// mistake shown on the form, and the rule acting on a customer's text.
import {
  env, check, customerNumber, textIn, signIn, screenshot, assertNoHorizontalScroll, thread, openConversation,
} from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

/** Signs in and opens the automations screen (settings pages have no live stream to wait for). */
async function openRules(page) {
  await signIn(page, env.admin);
  await page.goto(`${env.base}/settings/automations`);
  await page.getByRole("heading", { name: "Automations", level: 1 }).waitFor();
}

/** Submits a settings form and waits for the page it leads to. */
async function save(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), locator.click()]);
}

export const scenarios = [
  {
    name: "automations-build-a-rule",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      await openRules(page);
      await page.getByRole("heading", { name: "After hours" }).first().waitFor();
      await page.getByRole("heading", { name: "Fixed rules: consent keywords" }).waitFor();
      await screenshot(page, "automations-list");

      await save(page, page.getByRole("link", { name: "Add a rule" }));
      const form = page.locator("#rule-form");
      await form.getByLabel(/^Name/).fill("Urgent words");
      await page.locator("select[name=text_test]").selectOption("keyword");
      await form.getByLabel(/^Words/).fill("urgent, emergency");
      await page.locator("select[name=set_priority]").selectOption("urgent");
      // A wait without a number: the form comes back with the reason and what was typed.
      await page.locator("#trigger").selectOption("waited");
      await save(page, page.locator("#save-rule"));
      await page.getByRole("alert").filter({ hasText: "write a number of minutes" }).waitFor();
      check((await form.getByLabel(/^Name/).inputValue()) === "Urgent words", "the name typed is kept");
      await screenshot(page, "automations-form-error");

      await page.locator("#trigger").selectOption("message_received");
      await form.getByLabel(/^Reply to the customer/).fill("We see this is urgent; a person is on it now.");
      await save(page, page.locator("#save-rule"));
      const rule = page.locator(".rule", { has: page.getByRole("heading", { name: "Urgent words" }) });
      await rule.getByText("the whole message is URGENT or EMERGENCY").waitFor();
      await rule.getByText("set the priority to urgent").waitFor();
      await screenshot(page, "automations-new-rule");

      // It acts: a customer's URGENT gets the priority and the reply.
      const number = customerNumber();
      const { conversation_id: id } = await textIn(page.request, number, "Urgent!");
      await openConversation(page, id);
      const th = thread(page);
      await th.bubble("a person is on it now").waitFor({ timeout: 15_000 });
      await th.event("Automation \u201cUrgent words\u201d").first().waitFor();

      // The phone width: the list and the form fit the screen.
      const phone = await (await newContext({ viewport: PHONE_390 })).newPage();
      await openRules(phone);
      await assertNoHorizontalScroll(phone, "the automations list at 390 px");
      await screenshot(phone, "automations-list-390");
      await phone.goto(`${env.base}/settings/automations/new`);
      await assertNoHorizontalScroll(phone, "the rule form at 390 px");
      await phone.screenshot({ path: `${env.screenshots}/automations-form-390.png`, fullPage: true });
      await page.goto(`${env.base}/settings/automations/new`);
      await page.screenshot({ path: `${env.screenshots}/automations-form-1280.png`, fullPage: true });
    },
  },
];
