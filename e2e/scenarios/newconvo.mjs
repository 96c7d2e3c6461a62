// "New conversation": an agent texts a customer first, from the inbox. A new
// number has no recorded opt-in: the form says so before anything is sent and
// offers to record the consent given by phone, then sends and lands the agent
// in the conversation; the customer's reply threads under it.
import {
  env, check, textIn, phoneMessages, signIn, submit, thread, assertNoHorizontalScroll, screenshot,
} from "../lib.mjs";

// Its own number, far from the shared sequence of customerNumber().
const NUMBER = "+14155558801";
const TYPED = "(415) 555-8801";
const TEXT = "Hi, this is the clinic: your new glasses are ready for pickup.";

/** Submits the form page (no live connection there, unlike the inbox) and waits for the next page. */
async function send(page, locator, { tap = false } = {}) {
  const loaded = page.waitForNavigation({ waitUntil: "load" });
  await (tap ? locator.tap() : locator.click());
  await loaded;
}

export const scenarios = [
  {
    name: "newconvo-consent-then-send",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      await signIn(page, env.agent);
      await screenshot(page, "newconvo-inbox");
      await send(page, page.locator("#new-conversation"));
      check(new URL(page.url()).pathname === "/conversations/new", `the button opens the form, not ${page.url()}`);
      await page.getByLabel("To").fill(TYPED);
      await page.locator("#new-inbox").selectOption(String(env.inbox));
      await page.getByLabel("Message").fill(TEXT);
      await screenshot(page, "newconvo-form");
      await send(page, page.locator("#new-send"));

      // Said before sending, with the way to record the consent; the text is kept.
      await page.locator("#no-opt-in", { hasText: "No recorded opt-in" }).waitFor();
      check((await page.getByLabel("Message").inputValue()) === TEXT, "the message typed is kept");
      check((await phoneMessages(page.request, NUMBER)).length === 0, "nothing was sent yet");
      await page.getByLabel("Record consent given by phone / in person").check();
      await page.getByRole("radio", { name: "By phone" }).check();
      await page.getByLabel(/^Evidence/).fill("Said yes to texts on a call this morning");
      await assertNoHorizontalScroll(page, "the consent step at 1280 px");
      await screenshot(page, "newconvo-consent");
      await submit(page, page.locator("#new-send"));

      // In the new conversation, the notification first.
      check(/\/conversations\/\d+$/.test(page.url()), `the agent lands in the conversation, not ${page.url()}`);
      const th = thread(page);
      await th.bubble("your new glasses are ready").waitFor();
      // Delivery is not waited for: at night on the customer's clock (the number's
      // zone) the text rightly waits for the morning; tests/app/notifications.rs
      // follows it to the phone at that moment.
      const reply = await textIn(page.request, NUMBER, "Great, I'll come by at 5");
      check(page.url().endsWith(`/conversations/${reply.conversation_id}`), "the reply lands in that conversation");
      await th.bubble("I'll come by at 5").waitFor();
      await screenshot(page, "newconvo-thread");
    },
  },
  {
    name: "newconvo-phone",
    async run({ newContext }) {
      const page = await (await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
      await signIn(page, env.agent);
      await assertNoHorizontalScroll(page, "the inbox with its New conversation button on a phone");
      await screenshot(page, "newconvo-inbox-phone");
      await send(page, page.locator("#new-conversation"), { tap: true });
      await page.locator("#new-inbox").selectOption(String(env.inbox));
      await page.getByLabel("To").fill("415 555 8802");
      await page.getByLabel("Message").fill("Your order is in.");
      await send(page, page.locator("#new-send"), { tap: true });
      await page.locator("#no-opt-in").waitFor();
      await assertNoHorizontalScroll(page, "the new conversation form on a phone");
      await page.setViewportSize({ width: 390, height: 1100 });
      await screenshot(page, "newconvo-phone");
    },
  },
];
