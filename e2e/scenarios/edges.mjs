// The workspace's rough edges (issue 11, section 5), each as an agent meets it:
// "Send later" left armed after a scheduled send, a STOP arriving while the
// conversation is open, the conversation toolbar at desk and phone widths, and
// the list's rows (previews of what was really exchanged, opted-out contacts
// waiting for nobody).
import {
  env, check, customerNumber, textIn, signIn, submit, row, thread, screenshot, assertNoHorizontalScroll, settled, waitLive,
} from "../lib.mjs";

/** Presses Enter in a field of a plain GET form and waits for the page it loads. */
async function enter(page, field) {
  await Promise.all([page.waitForNavigation({ waitUntil: "load" }), field.press("Enter")]);
  await waitLive(page);
}

/** A phone the width the issue names (390 px, an iPhone 12 to 15). */
const PHONE_390 = { width: 390, height: 844 };

export const scenarios = [
  {
    name: "edges-send-later-resets",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const number = customerNumber();
      const { conversation_id: id } = await textIn(page.request, number, "Can you remind me on Friday?");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);

      await page.locator(".send-later summary").click();
      const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
      await page.locator("#send-at").fill(`${day}T10:00`);
      check((await th.send.textContent()).trim() === "Schedule", "with a time set, the button says it schedules");
      await th.body.fill("Reminder: see you Friday at 10.");
      await th.body.press("Enter");
      await th.bubble("see you Friday").locator(".tick", { hasText: "Scheduled" }).waitFor();

      // Back to sending now: the time is cleared, the picker closed, the button says Send.
      check((await page.locator("#send-at").inputValue()) === "", "the scheduled time is cleared after the send");
      check(!(await page.locator(".send-later").evaluate((d) => d.open)), "Send later is closed after the send");
      check((await th.send.textContent()).trim() === "Send", "the button says Send again");
      await th.body.fill("Also, bring your insurance card.");
      await th.body.press("Enter");
      const next = th.bubble("insurance card");
      await next.locator(".tick.delivered").waitFor();
      check((await next.locator(".tick", { hasText: "Scheduled" }).count()) === 0, "the ordinary reply went now");
      await screenshot(page, "edges-send-later-reset");
    },
  },

  {
    name: "edges-stop-locks-composer-live",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const number = customerNumber();
      const { conversation_id: id } = await textIn(page.request, number, "What time do you open?");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);
      check((await th.composer.locator(".blocked-banner").count()) === 0, "the composer starts open");
      await th.body.fill("We open at 8");

      await textIn(page.request, number, "STOP");
      await page.locator(".thread-head .badge.stop", { hasText: "opted out" }).waitFor();
      await settled(page);
      // Locked as on a reload: the banner says why, the reply is a note, the draft is kept.
      await th.composer.locator(".blocked-banner", { hasText: "Cannot text this contact." }).waitFor();
      check(await page.getByLabel("Private note").isChecked(), "the composer switched to a private note");
      check((await th.send.textContent()).trim() === "Add note", "the button adds a note");
      check((await th.body.inputValue()) === "We open at 8", "the draft is kept");
      await screenshot(page, "edges-stop-live");

      // Reloading shows the same thing.
      await page.reload();
      await th.composer.locator(".blocked-banner", { hasText: "Cannot text this contact." }).waitFor();
      check((await th.send.textContent()).trim() === "Add note", "after a reload too");

      // START unlocks it again, live.
      await textIn(page.request, number, "START");
      await page.locator(".thread-head .badge.stop").waitFor({ state: "detached" });
      await settled(page);
      check((await th.composer.locator(".blocked-banner").count()) === 0, "an opt-in unlocks the composer");
      check(!(await page.getByLabel("Private note").isChecked()), "and the reply is a text again");
    },
  },

  {
    name: "edges-toolbar",
    async run({ newContext }) {
      const number = customerNumber();
      const desk = await (await newContext()).newPage();
      const { conversation_id: id } = await textIn(desk.request, number, "Is parking free?");
      await signIn(desk, env.agent, `/conversations/${id}`);
      // At 1280 px the name and every action share one row.
      const { rows, head, beside } = await desk.evaluate(() => {
        const bar = document.querySelector(".thread-head .actions");
        // Controls of different heights are centred on a line: a new row starts below the last one's bottom.
        const boxes = [...bar.children].map((c) => c.getBoundingClientRect()).filter((r) => r.width > 0 && r.height > 0)
          .sort((a, b) => a.top - b.top);
        let rows = 0, bottom = -Infinity;
        for (const r of boxes) {
          if (r.top >= bottom - 1) { rows += 1; bottom = r.bottom; } else bottom = Math.max(bottom, r.bottom);
        }
        const who = document.querySelector(".thread-head .who-block").getBoundingClientRect();
        return {
          rows,
          head: document.querySelector(".thread-head").getBoundingClientRect().height,
          beside: bar.getBoundingClientRect().top < who.bottom,
        };
      });
      console.log(`      toolbar at 1280 px: ${rows} row(s) of actions, beside the name: ${beside}, head ${Math.round(head)} px tall`);
      check(rows === 1 && beside, `the toolbar is one row beside the name at 1280 px (${rows} rows, beside: ${beside})`);
      await screenshot(desk, "edges-toolbar-1280");

      // At 390 px, with the actions open, the thread keeps at least a third of the screen.
      const phone = await (await newContext({ viewport: PHONE_390, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.agent, `/conversations/${id}`);
      await phone.locator(".actions-menu > summary").tap();
      check(await phone.locator(".actions-menu").evaluate((d) => d.open), "the actions are open");
      const share = await phone.evaluate(() => {
        // What of the messages is on screen and not covered by the open actions.
        const m = document.getElementById("messages").getBoundingClientRect();
        const a = document.querySelector(".actions-menu > .actions").getBoundingClientRect();
        const top = Math.max(m.top, 0), bottom = Math.min(m.bottom, window.innerHeight);
        const covered = Math.max(0, Math.min(bottom, a.bottom) - Math.max(top, a.top));
        return (Math.max(0, bottom - top) - covered) / window.innerHeight;
      });
      console.log(`      thread at 390 px with the actions open: ${(share * 100).toFixed(0)}% of the screen`);
      check(share >= 1 / 3, `the thread gets ${(share * 100).toFixed(0)}% of the screen with the actions open, under a third`);
      await assertNoHorizontalScroll(phone, "the conversation with its actions open at 390 px");
      await screenshot(phone, "edges-toolbar-390-open");
    },
  },

  {
    name: "edges-search-every-status",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const number = customerNumber();
      const word = `scaling${Date.now() % 100000}`;
      const { conversation_id: id } = await textIn(page.request, number, `Do you do ${word} and polishing on Saturdays?`);
      await signIn(page, env.agent, `/conversations/${id}`);
      await submit(page, page.locator("#thread").getByRole("button", { name: "Resolve" }));

      // Under the default Open list, a search still finds the resolved conversation.
      await page.goto(`${env.base}/inbox`);
      await settled(page);
      check((await page.locator("#status").inputValue()) === "", "Open is the default, not a choice");
      await page.locator("#q").fill(word);
      await enter(page, page.locator("#q"));
      const found = row(page, number);
      await found.waitFor();
      await found.locator(".badge.status-resolved").waitFor();
      await page.locator("#search-scope", { hasText: "every status" }).waitFor();
      const marked = await found.locator(".snippet mark").allTextContents();
      check(marked.some((m) => m.toLowerCase() === word), `the match is highlighted in context: ${marked}`);
      check((await found.locator(".snippet").textContent()).includes("polishing"), "the snippet shows the words around it");
      await screenshot(page, "edges-search-1280");

      // Choosing Open narrows the search, and the empty list says how to widen it.
      await Promise.all([page.waitForNavigation({ waitUntil: "load" }), page.locator("#status").selectOption("open")]);
      await waitLive(page);
      check(new URL(page.url()).searchParams.get("status") === "open", "the chosen status is in the address");
      await page.locator("#list .empty", { hasText: "Nothing open matches" }).waitFor();
      await submit(page, page.locator("#list .empty").getByRole("link", { name: "Search every status" }));
      await found.waitFor();

      const phone = await (await newContext({ viewport: PHONE_390, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.agent, `/inbox?q=${word}`);
      await row(phone, number).locator(".snippet mark").waitFor();
      await assertNoHorizontalScroll(phone, "search results at 390 px");
      await screenshot(phone, "edges-search-390");
    },
  },

  {
    name: "edges-list-previews",
    async run({ newContext }) {
      // A rule that answers one word at once, as the off-hours reply answers every text at night.
      const word = `mouthguard${Date.now() % 100000}`;
      const admin = await (await newContext()).newPage();
      await signIn(admin, env.admin);
      await admin.goto(`${env.base}/settings/automations/new`);
      const form = admin.locator("#rule-form");
      await form.getByLabel(/^Name/).fill(`Answer ${word}`);
      await admin.locator("select[name=text_test]").selectOption("contains");
      await form.getByLabel(/^Words/).fill(word);
      await form.getByLabel(/^Reply to the customer/).fill("Thanks! We got your message and will answer soon.");
      await Promise.all([admin.waitForNavigation({ waitUntil: "load" }), admin.locator("#save-rule").click()]);

      const page = await (await newContext()).newPage();
      const asked = customerNumber(), scheduled = customerNumber(), stopped = customerNumber();
      await textIn(page.request, asked, `Do you make a ${word} for night grinding?`);
      const { conversation_id: id } = await textIn(page.request, scheduled, "Can I book a cleaning for Tuesday?");
      await textIn(page.request, stopped, "Where is my order?");
      await textIn(page.request, stopped, "STOP");

      // A message scheduled and then cancelled was never sent: it is not the preview.
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);
      await page.locator(".send-later summary").click();
      const day = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
      await page.locator("#send-at").fill(`${day}T10:00`);
      await th.body.fill("Reminder: your cleaning is on Tuesday.");
      await th.body.press("Enter");
      const reminder = th.bubble("Reminder: your cleaning");
      await reminder.locator(".tick", { hasText: "Scheduled" }).waitFor();
      await submit(page, page.locator(".waiting-actions").getByRole("button", { name: "Cancel" }));
      await th.event("cancelled a scheduled message").waitFor();

      await page.goto(`${env.base}/inbox?view=all`);
      await settled(page);
      const cancelled = row(page, scheduled);
      await cancelled.waitFor();
      await cancelled.locator(".preview", { hasText: "Can I book a cleaning" }).first().waitFor();
      const previews = (await cancelled.locator(".preview").allTextContents()).join(" | ");
      check(!previews.includes("Reminder"), `a cancelled message is never the preview: ${previews}`);

      // The automatic answer is the preview; the customer's own words stay in the row.
      const answered = row(page, asked);
      await answered.locator(".preview", { hasText: "We got your message" }).waitFor({ timeout: 15_000 });
      await answered.locator(".preview.customer", { hasText: `Customer: Do you make a ${word}` }).waitFor();

      // An opted-out customer is open but waits for nobody: no "waiting", never late.
      const out = row(page, stopped);
      await out.locator(".badge.stop", { hasText: "opted out" }).waitFor();
      check((await out.locator(".badge.waiting").count()) === 0, "an opted-out contact is not shown waiting or late");
      await screenshot(page, "edges-list-previews-1280");

      const phone = await (await newContext({ viewport: PHONE_390, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.agent, "/inbox?view=all");
      await row(phone, asked).locator(".preview.customer").waitFor();
      check((await row(phone, stopped).locator(".badge.waiting").count()) === 0, "nor at 390 px");
      await assertNoHorizontalScroll(phone, "the list with previews at 390 px");
      await screenshot(phone, "edges-list-previews-390");
    },
  },

  {
    name: "edges-first-run",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      await signIn(page, env.admin);
      // The checklist shows until every step is done (other scenarios may have done them all).
      const setup = page.locator("#setup");
      if (await setup.count()) {
        await setup.getByRole("link", { name: "Invite a colleague" }).waitFor();
        check((await setup.locator("li.done", { hasText: "Invite a colleague" }).count()) === 1, "colleagues tick their step");
        await screenshot(page, "edges-first-run-1280");
        const phone = await (await newContext({ viewport: PHONE_390, isMobile: true, hasTouch: true })).newPage();
        await signIn(phone, env.admin);
        await phone.locator("#setup").waitFor();
        await assertNoHorizontalScroll(phone, "the setup checklist at 390 px");
        await screenshot(phone, "edges-first-run-390");
      } else {
        console.log("      (every setup step was already done: no checklist to show)");
      }

      // The away message's preview follows the typing, counted by the server.
      await page.goto(`${env.base}/settings/inboxes/${env.inbox}#replies`);
      const count = page.locator("#away-preview .away-count");
      check(/^1 text · /.test(await count.textContent()), "the default away message is one text");
      await page.locator("#off-text").fill("We are closed right now. ".repeat(8) + "Back {next_open}.");
      await page.locator("#away-preview .away-count", { hasText: /^2 texts · / }).waitFor();
      check(!(await page.locator("#away-preview .away-text").textContent()).includes("{next_open}"), "the preview names the opening");
      await page.locator("form#hours").scrollIntoViewIfNeeded();
      await screenshot(page, "edges-hours-1280");
      const phone = await (await newContext({ viewport: PHONE_390, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.admin);
      await phone.goto(`${env.base}/settings/inboxes/${env.inbox}`);
      await phone.locator("form#hours").scrollIntoViewIfNeeded();
      await assertNoHorizontalScroll(phone, "the hours pickers at 390 px");
      await screenshot(phone, "edges-hours-390");
    },
  },
];
