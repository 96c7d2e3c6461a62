// Merging two contacts who are one person, from the contact panel: find the
// other, read the preview (both histories, consent per scope, which value
// each field keeps), merge, then undo from the panel.
import {
  env, check, textIn, signIn, submit, thread, openConversation, assertNoHorizontalScroll, screenshot,
  customerNumber, DESKTOP, TIMEOUT,
} from "../lib.mjs";

const PHONE_390 = { width: 390, height: 844 };

/** Follows a link or posts a form to a page without a live stream (the merge screen). */
async function go(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT * 2 }), locator.click()]);
}

export const scenarios = [
  {
    name: "merge",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const home = customerNumber();
      const work = customerNumber();
      const { conversation_id: a } = await textIn(page.request, home, "Hi, it's Rosa from home");
      await textIn(page.request, work, "Rosa again, from my work phone");
      await signIn(page, env.agent, `/conversations/${a}`);
      const th = thread(page);
      await page.locator("#contact-name").fill("Rosa Diaz");
      await submit(page, th.panel.locator(".contact-edit button"));

      await go(page, th.panel.locator("#contact-merge"));
      await page.locator("#merge-q").fill(work);
      await go(page, page.getByRole("button", { name: "Search" }));
      await go(page, page.locator("#merge-candidates a").first());
      await page.locator("#merge-fields th", { hasText: "Name" }).waitFor();
      check((await page.locator("#merge-fields input[name='keep.name'][value=survivor]").isChecked()), "the survivor's name is kept by default");
      await page.locator(".merge-side", { hasText: work }).waitFor();
      await page.setViewportSize({ width: 1280, height: 1100 });
      await screenshot(page, "merge-preview");
      await page.setViewportSize(PHONE_390);
      await assertNoHorizontalScroll(page, "the merge preview on a phone");
      await screenshot(page, "merge-preview-phone");
      await page.setViewportSize(DESKTOP);

      await go(page, page.locator("#merge-confirm"));
      await page.locator("#merge-done", { hasText: "Merged: 1 addresses, 1 conversations" }).waitFor();
      await screenshot(page, "merge-done");
      await page.setViewportSize(PHONE_390);
      await assertNoHorizontalScroll(page, "the merge's result on a phone");
      await screenshot(page, "merge-done-phone");
      await page.setViewportSize(DESKTOP);

      // The conversation's panel has both numbers, the history says what happened, and it can be undone.
      await openConversation(page, a);
      await th.panel.locator(".identity", { hasText: work }).waitFor();
      await th.event("merged contact").waitFor();
      await page.setViewportSize({ width: 1280, height: 1500 });
      await th.panel.screenshot({ path: `${env.screenshots}/merge-panel.png` });
      await page.setViewportSize(DESKTOP);
      await submit(page, th.panel.getByRole("button", { name: "Undo merge" }));
      await th.event("undid the merge").waitFor();
      check((await th.panel.locator(".identity", { hasText: work }).count()) === 0, "the work number went back to its own contact");
      await page.setViewportSize(PHONE_390);
      await screenshot(page, "merge-undone-phone");
    },
  },
];
