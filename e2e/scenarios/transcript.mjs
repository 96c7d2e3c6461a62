// A conversation's transcript: from the conversation's "More" menu, every
// message and timeline entry in order with the business's clock named,
// readable on a desk and on a phone, and nothing of the app's chrome printed.
import {
  env, check, customerNumber, textIn, signIn, openConversation, assertNoHorizontalScroll, screenshot,
} from "../lib.mjs";

async function conversationWithHistory(page) {
  const number = customerNumber();
  const first = await textIn(page.request, number, "My crown came loose this morning");
  await textIn(page.request, number, "Can I come in today? It hurts a little when I chew.");
  return first.conversation_id;
}

export const scenarios = [
  {
    name: "transcript-desk",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      await signIn(page, env.agent);
      const id = await conversationWithHistory(page);
      await openConversation(page, id);
      await page.locator("details.more-picker summary").click();
      const opened = page.waitForNavigation({ waitUntil: "load" });
      await page.locator("#transcript-link").click();
      await opened;
      check(new URL(page.url()).pathname === `/conversations/${id}/transcript`, `the transcript opens, not ${page.url()}`);
      const lines = page.locator(".transcript-lines li");
      check((await lines.count()) >= 3, "the start and both messages are listed");
      check((await lines.first().innerText()).includes("Conversation started"), "the start comes first");
      check((await page.locator("#transcript h1").innerText()).includes("+1"), "a customer without a name is named by their number");
      await page.getByText("(the business's clock)").waitFor();
      await assertNoHorizontalScroll(page, "the transcript at 1280 px");
      await screenshot(page, "transcript-desk");
      // Printed: the app's chrome and the buttons are left out.
      await page.emulateMedia({ media: "print" });
      check(!(await page.locator(".no-print").first().isVisible()), "the chrome is not printed");
      check(await page.locator("#transcript h1").isVisible(), "the transcript is");
      await screenshot(page, "transcript-print");
    },
  },
  {
    name: "transcript-phone",
    async run({ newContext }) {
      const page = await (await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
      await signIn(page, env.agent);
      const id = await conversationWithHistory(page);
      await page.goto(`${env.base}/conversations/${id}/transcript`);
      await page.getByText("It hurts a little when I chew").waitFor();
      await assertNoHorizontalScroll(page, "the transcript on a phone");
      await screenshot(page, "transcript-phone");
    },
  },
];
