// The conversation list: filters, the waiting sort, search, the mentions view,
// and the filter bar at phone width.
import {
  env, check, submit, textIn, signIn, row, screenshot, customerNumber, thread, openConversation,
  assertNoHorizontalScroll, PHONE,
} from "../lib.mjs";

/** Opens "Filters and sort" if it is closed. */
async function openFilters(page) {
  const more = page.locator("details.filter-more");
  if (!(await more.evaluate((d) => d.open))) await more.locator("summary").click();
}

async function rowIndex(page, number) {
  return page.locator("#list .row").evaluateAll(
    (rows, n) => rows.findIndex((r) => r.querySelector(`.name[title="${n}"]`)),
    number,
  );
}

export const scenarios = [
  {
    name: "list-filters-sort-search-mentions",
    async run({ newContext }) {
      const urgent = process.env.TEXTDESK_LIST_URGENT_NUMBER;
      check(urgent, "browser.rs seeds an urgent conversation and names its number in TEXTDESK_LIST_URGENT_NUMBER");
      const ctx = await newContext();
      const dana = await ctx.newPage();
      const longer = customerNumber();
      const shorter = customerNumber();
      const asked = await textIn(ctx.request, longer, "Do you sell kumquats in winter?");
      await textIn(ctx.request, shorter, "Is anyone there?");
      await signIn(dana, env.agent);

      // Priority filter: only the urgent conversation is left.
      await openFilters(dana);
      await dana.locator("#f-priority").selectOption("urgent");
      await submit(dana, dana.getByRole("button", { name: "Apply" }));
      check(new URL(dana.url()).searchParams.get("priority") === "urgent", "the filter is in the address");
      await row(dana, urgent).waitFor();
      check((await row(dana, longer).count()) === 0, "a conversation of no priority is filtered out");
      check(await dana.locator("details.filter-more").evaluate((d) => d.open), "an active filter keeps the bar open");
      await screenshot(dana, "inbox-filters");

      // Longest waiting first: the customer who texted earlier comes first.
      await dana.locator("#f-priority").selectOption("");
      await dana.locator("#f-sort").selectOption("waiting");
      await submit(dana, dana.getByRole("button", { name: "Apply" }));
      check(new URL(dana.url()).searchParams.get("sort") === "waiting", "the sort is in the address");
      await row(dana, shorter).waitFor();
      const [a, b] = [await rowIndex(dana, longer), await rowIndex(dana, shorter)];
      check(a >= 0 && a < b, `the longer wait is listed first (rows ${a} and ${b})`);
      await row(dana, longer).locator(".badge.waiting", { hasText: /waiting \d+ min/ }).waitFor();

      // A customer texts while the agent is typing a search with the filters open:
      // the new row appears, and what the agent typed and opened stays as it was.
      await dana.locator("#q").fill("kumq");
      const third = customerNumber();
      await textIn(ctx.request, third, "Hello from a third phone");
      await row(dana, third).waitFor();
      check((await dana.locator("#q").inputValue()) === "kumq", "the half-typed search is kept");
      check(await dana.locator("#q").evaluate((el) => el === document.activeElement), "the search keeps its focus");
      check(await dana.locator("details.filter-more").evaluate((d) => d.open), "the open filters stay open");

      // Search by a word's start finds the message.
      await dana.locator("#q").fill("kumquat");
      await Promise.all([dana.waitForNavigation(), dana.locator("#q").press("Enter")]);
      await row(dana, longer).waitFor();
      check((await row(dana, shorter).count()) === 0, "a conversation without the word is not found");
      // Search syntax typed by the agent is only text: no error page.
      await dana.locator("#q").fill("kumquat\"*(");
      await Promise.all([dana.waitForNavigation(), dana.locator("#q").press("Enter")]);
      await row(dana, longer).waitFor();
      await dana.locator("#q").fill("\"(*");
      await Promise.all([dana.waitForNavigation(), dana.locator("#q").press("Enter")]);
      await dana.locator("#list .empty").waitFor();

      // A colleague's note mentions Dana: the Mentions view lists it.
      await dana.goto(`${env.base}/inbox?view=mentions`);
      check((await row(dana, longer).count()) === 0, "not mentioned yet");
      const samCtx = await newContext();
      const sam = await samCtx.newPage();
      await signIn(sam, env.agent2);
      await openConversation(sam, asked.conversation_id);
      await sam.getByLabel("Private note").check();
      await thread(sam).body.fill("@dana kumquat question for you");
      await thread(sam).body.press("Enter");
      await thread(sam).bubble("kumquat question").waitFor();
      await dana.getByRole("link", { name: "Mentions" }).click();
      await dana.waitForURL(/view=mentions/);
      await row(dana, longer).waitFor();
      check((await row(dana, shorter).count()) === 0, "only mentioned conversations are listed");

      // At phone width the filter bar folds and fits.
      const phone = await (await newContext({ viewport: PHONE, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.agent);
      await assertNoHorizontalScroll(phone, "the inbox with its filter bar closed");
      await openFilters(phone);
      await assertNoHorizontalScroll(phone, "the inbox with its filters open");
      await screenshot(phone, "inbox-filters-phone");
    },
  },
];
