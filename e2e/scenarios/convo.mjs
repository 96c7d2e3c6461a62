// What an agent does to a conversation: priority, labels (after an admin adds
// one on /settings/labels), snooze until tomorrow 9:00 on the agent's own clock,
// mark unread, and resolving onto the next conversation of the list.
import {
  env, check, customerNumber, textIn, signIn, submit, waitLive, row, thread, screenshot, assertNoHorizontalScroll, TIMEOUT,
} from "../lib.mjs";

/** Posts a settings form (those pages are not live) and waits for the page that answers. */
async function post(page, button) {
  const loaded = page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT * 2 });
  await button.click();
  await loaded;
}

/** The conversation ids of the list's rows, top to bottom. */
async function rowIds(page) {
  return page.locator("#list .row a").evaluateAll((as) =>
    as.map((a) => Number(new URL(a.href).pathname.split("/").pop())));
}

export const scenarios = [
  {
    name: "convo-labels-settings",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      await signIn(page, env.admin);
      await page.goto(`${env.base}/settings/labels`);
      const form = page.locator("#label-form");
      // A name with a space is refused, with the reason and what was typed.
      await form.getByLabel("Name").fill("two words");
      await post(page, form.getByRole("button", { name: "Add" }));
      await page.locator("#form-error", { hasText: "no spaces" }).waitFor();
      check((await form.getByLabel("Name").inputValue()) === "two words", "the form keeps what was typed");

      await form.getByLabel("Name").fill("billing");
      await form.getByLabel("Description").fill("Invoices and payments");
      await form.getByLabel("Amber").check();
      await post(page, form.getByRole("button", { name: "Add" }));
      const badge = page.locator(".labels-table .badge.label", { hasText: "billing" });
      await badge.waitFor();
      const colors = await badge.evaluate((e) => [getComputedStyle(e).backgroundColor, getComputedStyle(e).color]);
      check(colors[0] === "rgb(161, 98, 7)" && colors[1] === "rgb(255, 255, 255)", `the badge is amber with white text (${colors})`);
      await screenshot(page, "settings-labels");
    },
  },

  {
    name: "convo-actions",
    async run({ newContext }) {
      // The agent's own clock: "tomorrow 9:00" is nine in New York, whatever the business zone.
      const page = await (await newContext({ timezoneId: "America/New_York" })).newPage();
      const [a, b, c] = [customerNumber(), customerNumber(), customerNumber()];
      const { conversation_id: aId } = await textIn(page.request, a, "Can I move my cleaning?");
      const { conversation_id: bId } = await textIn(page.request, b, "Do you take my insurance?");
      await textIn(page.request, c, "Running late");
      await signIn(page, env.agent, "/inbox?view=all&status=open");
      const th = thread(page);

      await Promise.all([page.waitForURL(new RegExp(`/conversations/${aId}\\?`)), row(page, a).locator("a").click()]);
      await waitLive(page);

      // Priority: a select that saves on change, under "More".
      await page.locator(".more-picker summary").click();
      const saved = page.waitForNavigation({ waitUntil: "load", timeout: TIMEOUT * 2 });
      await page.locator("#priority").selectOption("high");
      await saved;
      await waitLive(page);
      await page.locator(".thread-head .badge.prio-high").waitFor();
      await th.event("set priority to high").waitFor();

      // A label from the catalogue (the settings scenario added it).
      await page.locator(".label-picker summary").click();
      await page.locator(".label-picker").getByLabel("billing").check();
      await submit(page, page.getByRole("button", { name: "Save labels" }));
      await page.locator(".thread-head .sub .badge.label[data-color='#a16207']", { hasText: "billing" }).waitFor();
      await th.event("set the labels: billing").waitFor();
      await row(page, a).locator(".badge.label[data-color='#a16207']", { hasText: "billing" }).waitFor();

      // Snooze until tomorrow 9:00, shown on the agent's clock.
      await page.locator(".snooze-picker summary").click();
      await page.locator(".snooze-picker [data-zone-note]", { hasText: "America/New_York" }).waitFor();
      await page.getByLabel("Tomorrow 9:00").check();
      await screenshot(page, "conversation-actions");
      await submit(page, page.locator(".snooze-picker").getByRole("button", { name: "Snooze" }));
      const day = new Intl.DateTimeFormat("en-US", { weekday: "short", timeZone: "America/New_York" })
        .format(new Date(Date.now() + 24 * 3600 * 1000));
      await page.locator("#snoozed-until", { hasText: `Snoozed until ${day} 9:00 AM` }).waitFor();
      await page.locator(".thread-head .badge.status-snoozed").waitFor();
      // The timeline says the same moment as the header, and whose clock it is.
      await th.event(`snoozed this until ${day} 9:00 AM (America/New_York time)`).waitFor();

      // Mark unread: back to the list, where it is bold until opened again.
      await Promise.all([page.waitForURL(new RegExp(`/conversations/${bId}\\?`)), row(page, b).locator("a").click()]);
      await waitLive(page);
      await page.locator(".more-picker summary").click();
      await Promise.all([
        page.waitForURL(/\/inbox\?view=all&status=open/),
        page.getByRole("button", { name: "Mark unread" }).click(),
      ]);
      await waitLive(page);
      const bRow = row(page, b);
      await page.locator("#list .row.unread:has(.name[title='" + b + "'])").waitFor();
      const weight = await bRow.locator(".name").evaluate((e) => Number(getComputedStyle(e).fontWeight));
      check(weight >= 700, `an unread row's name is bold (font-weight ${weight})`);
      await Promise.all([page.waitForURL(new RegExp(`/conversations/${bId}\\?`)), bRow.locator("a").click()]);
      await waitLive(page);
      await page.locator("#list .row.active:not(.unread):has(.name[title='" + b + "'])").waitFor({ timeout: TIMEOUT });

      // Resolve: on to the next row of this list.
      const ids = await rowIds(page);
      const at = ids.indexOf(bId);
      check(at >= 0, "the open conversation is in the list");
      const next = ids[at + 1];
      await Promise.all([
        page.waitForURL(next ? new RegExp(`/conversations/${next}\\?view=all&status=open`) : /\/inbox\?view=all&status=open/),
        page.getByRole("button", { name: "Resolve" }).click(),
      ]);
      await waitLive(page);
      check((await row(page, b).count()) === 0, "the resolved conversation has left the open list");

      // At phone width the open pickers stay on the screen.
      await page.setViewportSize({ width: 360, height: 740 });
      await page.goto(`${env.base}/conversations/${aId}?view=all&status=snoozed`);
      await waitLive(page);
      await page.locator(".actions-menu > summary").click();
      await page.locator(".label-picker summary").click();
      await page.locator(".label-picker").getByLabel("billing").waitFor();
      await assertNoHorizontalScroll(page, "the label picker at 360 px");
    },
  },
];
