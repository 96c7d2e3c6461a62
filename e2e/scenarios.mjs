// The agent's workspace, scenario by scenario. Each gets fresh browser
// contexts from the runner and a customer number of its own.
import {
  env, check, submit, textIn, phoneMessages, eventually, signIn, waitLive, row, markDocument, assertNotReloaded,
  assertNoHorizontalScroll, screenshot, customerNumber, PHONE, TIMEOUT, thread, openConversation, countSays,
} from "./lib.mjs";

export const scenarios = [
  {
    name: "login",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      await page.goto(`${env.base}/inbox`);
      await page.waitForURL(/\/login\?next=/);
      await page.getByLabel("E-mail").fill(env.agent.email);
      await page.getByLabel("Password").fill("not the password");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("alert").filter({ hasText: "do not match" }).waitFor();
      await screenshot(page, "login-error");
      await page.getByLabel("Password").fill(env.password);
      await Promise.all([page.waitForURL(/\/inbox$/), page.getByRole("button", { name: "Sign in" }).click()]);
      await waitLive(page);
      await page.locator(".me", { hasText: env.agent.name }).waitFor();
      // Signing out ends the session.
      await Promise.all([page.waitForURL(/\/login$/), page.getByRole("button", { name: "Sign out" }).click()]);
      await page.goto(`${env.base}/inbox`);
      await page.waitForURL(/\/login\?next=/);
    },
  },

  {
    name: "live-inbox",
    async run({ newContext }) {
      const ctx = await newContext();
      const agent = await ctx.newPage();
      await signIn(agent, env.agent);
      await markDocument(agent);
      const number = customerNumber();
      check((await row(agent, number).count()) === 0, "the customer is not in the inbox before texting");
      const unreadBefore = await agent.evaluate(() => Number((/^\((\d+)\) /.exec(document.title) || [0, 0])[1]));

      // The customer uses the phone simulator page.
      const phone = await ctx.newPage();
      await phone.goto(`${env.base}/simulator`);
      await phone.locator("#sim-inbox option").first().waitFor({ state: "attached" });
      await phone.getByLabel("Your phone number").fill(number);
      await phone.getByLabel("Text message").fill("Hi, are you open on Saturday?");
      await phone.getByRole("button", { name: "Send" }).click();
      await phone.locator("#phone-msgs .from_phone", { hasText: "are you open on Saturday" }).waitFor();

      // It appears in the agent's open inbox, unread and waiting, without a reload.
      const r = row(agent, number);
      await r.locator(".preview", { hasText: "Hi, are you open on Saturday?" }).waitFor();
      await r.locator(".unread-count").waitFor();
      await r.locator(".badge.waiting").waitFor();
      // The tab's title counts one more unread conversation.
      await agent.waitForFunction(
        (before) => Number((/^\((\d+)\) /.exec(document.title) || [0, 0])[1]) === before + 1,
        unreadBefore,
        { timeout: 10000 },
      );
      await assertNotReloaded(agent, "a new text in the open inbox");
      await agent.bringToFront();
      await screenshot(agent, "inbox");

      // The agent answers; the phone gets it, and the agent sees it delivered.
      await Promise.all([agent.waitForURL(/\/conversations\/\d+/), r.locator("a").click()]);
      await waitLive(agent);
      const th = thread(agent);
      await th.bubble("are you open on Saturday").waitFor();
      check((await row(agent, number).locator(".unread-count").count()) === 0, "opening the conversation marks it read");
      await th.body.fill("Yes, from 9 to noon.");
      await th.body.press("Enter");
      const sent = th.bubble("Yes, from 9 to noon.");
      await sent.waitFor();
      await sent.locator(".tick.delivered").waitFor();
      await phone.locator("#phone-msgs .to_phone", { hasText: "Yes, from 9 to noon." }).waitFor();
      await phone.bringToFront();
      await screenshot(phone, "simulator");
    },
  },

  {
    name: "composer-counter",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const number = customerNumber();
      const { conversation_id: id } = await textIn(page.request, number, "Can I get a quote for a crown?");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);

      await th.body.fill("a".repeat(160));
      await countSays(page, "160 characters · 1 text · GSM-7");
      await th.body.fill("a".repeat(161));
      await countSays(page, "161 characters · 2 texts · GSM-7");
      await th.body.fill("Thanks 😀");
      await countSays(page, "UCS-2");
      await th.meta.locator("li.warn-emoji").waitFor();

      // The tone warnings an agent would see before sending something casual.
      await th.body.fill("THX, SEE U TMRW!!! 🎉");
      for (const code of ["slang", "emoji", "exclamation"]) await th.meta.locator(`li.warn-${code}`).waitFor();
      await screenshot(page, "composer-warnings");

      // A clean reply goes out with Enter; the counter empties with the composer.
      await th.body.fill("A crown is usually between $900 and $1,200. Shall I book a consult?");
      await countSays(page, "1 text · GSM-7");
      check((await th.meta.locator("li").count()) === 0, "a plain, polite reply has no warnings");
      await th.body.press("Enter");
      await th.bubble("Shall I book a consult?").locator(".tick.delivered").waitFor();
      check((await th.body.inputValue()) === "", "the composer is emptied after sending");
      await page.locator("#composer-meta .count").waitFor({ state: "detached" });
      await eventually("the phone receives the reply", async () =>
        (await phoneMessages(page.request, number)).some((m) => m.body.includes("Shall I book a consult?")));
      await screenshot(page, "conversation");
    },
  },

  {
    name: "canned-response",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const { conversation_id: id } = await textIn(page.request, customerNumber(), "When are you open?");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);
      const picker = page.getByRole("listbox", { name: "Canned responses" });

      await th.body.click();
      await th.body.pressSequentially("/");
      await picker.getByRole("option", { name: /\/hours/ }).waitFor();
      await th.body.pressSequentially("ho");
      await picker.getByRole("option", { name: /Opening hours/ }).waitFor();
      await screenshot(page, "canned-picker");
      await th.body.press("Enter");
      await picker.waitFor({ state: "hidden" });
      const first = env.agent.name.split(" ")[0];
      const expected = `Hi there, we are open 8 to 5, Monday to Friday. – ${first}`;
      await page.waitForFunction(
        ([sel, want]) => document.querySelector(sel).value === want,
        ["#composer textarea[name=body]", expected],
        { timeout: TIMEOUT },
      ).catch(async () => {
        throw new Error(`the canned response was not filled in: the composer holds ${JSON.stringify(await th.body.inputValue())}, expected ${JSON.stringify(expected)}`);
      });
      await countSays(page, `${expected.length} characters`);

      // Escape closes the picker and leaves the text alone.
      await th.body.press("End");
      await th.body.pressSequentially(" /");
      await picker.waitFor();
      await th.body.press("Escape");
      await picker.waitFor({ state: "hidden" });
      await th.body.press("Backspace");
      await th.body.press("Backspace");
      check((await th.body.inputValue()) === expected, "Escape leaves the composer as typed");

      await th.body.press("Enter");
      await th.bubble("Monday to Friday").waitFor();
    },
  },

  {
    name: "assign-snooze-resolve-reopen",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const number = customerNumber();
      const { conversation_id: id } = await textIn(page.request, number, "My filling came out");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);
      const me = env.agent.name;

      await submit(page, page.getByRole("button", { name: "Assign to me" }));
      await th.event(`${me} took this`).waitFor();
      await th.panel.locator("dd", { hasText: me }).waitFor();
      await page.getByRole("button", { name: "Assign to me" }).waitFor({ state: "detached" });
      check((await page.locator("#assignee option:checked").textContent()).trim() === me, "the assignee menu names the agent");
      await row(page, number).locator(".who", { hasText: me }).waitFor();
      await th.panel.screenshot({ path: `${env.screenshots}/contact-panel.png` });

      await page.locator(".snooze-picker summary").click();
      await page.getByLabel("In 1 hour").check();
      await submit(page, page.locator(".snooze-picker").getByRole("button", { name: "Snooze" }));
      await page.locator(".thread-head .badge.status-snoozed").waitFor();
      await th.event(`${me} snoozed this until`).waitFor();

      // Resolving moves on (to the next conversation, or the inbox), where it has left the open list.
      await Promise.all([
        page.waitForURL((u) => !u.pathname.endsWith(`/conversations/${id}`)),
        page.getByRole("button", { name: "Resolve" }).click(),
      ]);
      await waitLive(page);
      check((await row(page, number).count()) === 0, "a resolved conversation leaves the open list");

      // The customer writes again: it reopens, live, in the agent's inbox.
      await markDocument(page);
      await textIn(page.request, number, "Also, can I come in today?");
      const r = row(page, number);
      await r.locator(".preview", { hasText: "can I come in today" }).waitFor();
      await r.locator(".badge.status-open").waitFor();
      await assertNotReloaded(page, "a reopened conversation in the inbox");
      await Promise.all([page.waitForURL(new RegExp(`/conversations/${id}`)), r.locator("a").click()]);
      await th.event("Reopened: customer replied").waitFor();
      await page.locator(".thread-head .badge.status-open").waitFor();
      await page.getByRole("button", { name: "Resolve" }).waitFor();
    },
  },

  {
    name: "two-agents-live",
    async run({ newContext }) {
      const dana = await (await newContext()).newPage();
      const sam = await (await newContext()).newPage();
      const number = customerNumber();
      const { conversation_id: id } = await textIn(dana.request, number, "Is my crown ready?");
      await signIn(dana, env.agent, `/conversations/${id}`);
      await signIn(sam, env.agent2, `/conversations/${id}`);
      await markDocument(sam);

      // Dana takes it; Sam's open page shows it at once.
      await submit(dana, dana.getByRole("button", { name: "Assign to me" }));
      await thread(dana).event(`${env.agent.name} took this`).waitFor();
      await thread(sam).event(`${env.agent.name} took this`).waitFor();
      await row(sam, number).locator(".who", { hasText: env.agent.name }).waitFor();
      await thread(sam).panel.locator("dd", { hasText: env.agent.name }).waitFor();
      await assertNotReloaded(sam, "another agent's assignment");

      // Sam leaves a private note; Dana sees it appear.
      await markDocument(dana);
      await sam.getByLabel("Private note").check();
      await thread(sam).body.fill("Lab says Thursday");
      await thread(sam).body.press("Enter");
      const note = thread(dana).bubble("Lab says Thursday");
      await note.waitFor();
      check((await note.getAttribute("class")).includes("note"), "a private note shows as a note");
      await note.locator(".author", { hasText: env.agent2.name }).waitFor();

      // Dana replies; Sam sees the reply and its delivery.
      await thread(dana).body.fill("Your crown will be ready on Thursday.");
      await thread(dana).body.press("Enter");
      await thread(sam).bubble("ready on Thursday").locator(".tick.delivered").waitFor();
      await assertNotReloaded(sam, "another agent's reply");
      await assertNotReloaded(dana, "another agent's note");
    },
  },

  {
    name: "opted-out",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const number = customerNumber();
      const { conversation_id: id } = await textIn(page.request, number, "Who is this?");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);
      await markDocument(page);

      // STOP arrives while the conversation is open: the page shows it live.
      await textIn(page.request, number, "STOP");
      await th.bubble("STOP").waitFor();
      await page.locator(".thread-head .badge.stop", { hasText: "opted out" }).waitFor();
      await th.panel.getByText("Opted out", { exact: true }).waitFor();
      await assertNotReloaded(page, "an opt-out");
      // The phone gets the confirmation, and nothing after it.
      const before = (await eventually("the phone receives the opt-out confirmation", async () => {
        const msgs = await phoneMessages(page.request, number);
        return msgs.some((m) => m.direction === "to_phone" && /unsubscribed/i.test(m.body)) && msgs;
      })).length;

      // The composer locks at once, as it does on a reload: the banner says why and
      // the reply box turns to a private note. A text sent anyway is refused, the draft kept.
      await th.composer.locator(".blocked-banner", { hasText: "START" }).waitFor();
      check(await page.getByLabel("Private note").isChecked(), "the composer turned to a private note");
      await page.getByLabel("Private note").uncheck();
      await th.body.fill("Sorry to see you go");
      await th.meta.locator(".verdict.block").waitFor();
      await th.body.press("Enter");
      await th.meta.locator(".verdict.block").waitFor();
      check((await th.body.inputValue()) === "Sorry to see you go", "the refused draft stays in the composer");
      check((await th.bubble("Sorry to see you go").count()) === 0, "nothing was sent");

      // Opened afresh, the composer says so up front and offers a private note.
      await openConversation(page, id);
      const banner = page.locator(".blocked-banner");
      await banner.getByText("Cannot text this contact.").waitFor();
      check(await page.getByLabel("Private note").isChecked(), "the composer starts as a private note");
      check((await th.send.textContent()).trim() === "Add note", "the button adds a note");
      await th.body.fill("Asked to stop; do not text.");
      await screenshot(page, "opted-out");
      await th.body.press("Enter");
      await th.bubble("do not text").waitFor();
      await row(page, number).locator(".badge.stop").waitFor();
      check((await phoneMessages(page.request, number)).length === before, "nothing reached the phone after STOP");
    },
  },

  {
    name: "send-later",
    async run({ newContext }) {
      // The agent's own zone differs from the customer's and the business's.
      const ownZone = "Asia/Tokyo";
      const page = await (await newContext({ timezoneId: ownZone })).newPage();
      const number = customerNumber();
      const { conversation_id: id } = await textIn(page.request, number, "Remind me about Monday please");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);

      await page.locator(".send-later summary", { hasText: "Send later" }).click();
      const zone = page.locator(".send-later select[name=send_at_zone]");
      const options = await zone.locator("option").allTextContents();
      check(options.some((o) => o.startsWith("their time (America/Los_Angeles)")), `the zone menu offers their time: ${options}`);
      check(options.some((o) => o.startsWith("business time (")), `the zone menu offers business time: ${options}`);
      check(options.includes(`your time (${ownZone})`), `the zone menu offers the agent's own time: ${options}`);

      // 10:00 in Tokyo two days from now, which the thread shows in the customer's time.
      const day = new Date(Date.now() + 2 * 86_400_000).toLocaleDateString("en-CA", { timeZone: ownZone });
      const at = new Date(`${day}T10:00:00+09:00`);
      const theirs = at.toLocaleTimeString("en-US", { timeZone: "America/Los_Angeles", hour: "numeric", minute: "2-digit" });
      await page.getByLabel("Send at").fill(`${day}T10:00`);
      await zone.selectOption(ownZone);
      await th.body.fill("Reminder: your cleaning is on Monday at 10.");
      await th.body.press("Enter");
      const waiting = th.bubble("your cleaning is on Monday");
      await waiting.locator(".tick", { hasText: `Scheduled: goes out at ${theirs} their time` }).waitFor();
      await waiting.getByRole("button", { name: "Send now" }).waitFor();
      await screenshot(page, "send-later");

      // The waiting message's own editor offers the agent's zone too; moving it to
      // 9:00 business time is shown in their time.
      await waiting.locator(".waiting-edit summary").click();
      const editZone = waiting.locator("select[name=send_at_zone]");
      check((await editZone.locator("option").allTextContents()).includes(`your time (${ownZone})`), "the edit form offers the agent's own time");
      await waiting.getByLabel("Send at").fill(`${day}T09:00`);
      await editZone.selectOption(ownZone);
      // The customer writes meanwhile: the thread waits to show it until the agent is done editing.
      await markDocument(page);
      await textIn(page.request, number, "Thanks!");
      await page.locator("#list .row.active .preview", { hasText: "Thanks!" }).waitFor();
      await assertNotReloaded(page, "a new text while editing");
      check(await waiting.locator(".waiting-edit").evaluate((d) => d.open), "a live update closed the edit form");
      check((await waiting.getByLabel("Send at").inputValue()) === `${day}T09:00`, "a live update lost the edited time");
      // Closing the form without saving shows what came in, still without a reload.
      await waiting.locator(".waiting-edit summary").click();
      await th.bubble("Thanks!").waitFor();
      await assertNotReloaded(page, "catching up after editing");
      await waiting.locator(".waiting-edit summary").click();
      await waiting.getByLabel("Send at").fill(`${day}T09:00`);
      await waiting.locator("select[name=send_at_zone]").selectOption(ownZone);
      await submit(page, waiting.getByRole("button", { name: "Save" }));
      const nine = new Date(`${day}T09:00:00+09:00`).toLocaleTimeString("en-US", { timeZone: "America/Los_Angeles", hour: "numeric", minute: "2-digit" });
      await th.bubble("your cleaning is on Monday").locator(".tick", { hasText: `goes out at ${nine} their time` }).waitFor();

      // Send now: it goes and is delivered.
      await submit(page, th.bubble("your cleaning is on Monday").getByRole("button", { name: "Send now" }));
      await th.bubble("your cleaning is on Monday").locator(".tick.delivered").waitFor();
      await th.bubble("Thanks!").waitFor();
    },
  },

  {
    name: "phone-width",
    async run({ newContext }) {
      const ctx = await newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
      const page = await ctx.newPage();
      const number = customerNumber();
      await textIn(page.request, number, "Running 10 min late, sorry!");
      await page.goto(`${env.base}/login`);
      await assertNoHorizontalScroll(page, "the sign-in page at 360 px");
      await signIn(page, env.agent);

      // The list fills the screen; no thread pane beside it.
      const r = row(page, number);
      await r.waitFor();
      check(await page.locator("#list").isVisible(), "the list shows on a phone");
      check(!(await page.locator(".thread-pane").isVisible()), "no empty thread pane beside the list on a phone");
      await assertNoHorizontalScroll(page, "the inbox at 360 px");
      await screenshot(page, "phone-inbox");

      await Promise.all([page.waitForURL(/\/conversations\/\d+/), r.locator("a").tap()]);
      await waitLive(page);
      const th = thread(page);
      check(!(await page.locator("#list").isVisible()), "the thread takes the whole screen on a phone");
      await page.getByRole("link", { name: "← Inbox" }).waitFor();
      await th.bubble("Running 10 min late").waitFor();
      check(!(await page.getByRole("button", { name: "Resolve" }).isVisible()), "the actions are folded away");
      await th.body.scrollIntoViewIfNeeded();
      check(await th.send.isVisible(), "the send button is on screen");
      await assertNoHorizontalScroll(page, "a conversation at 360 px");

      // On a touch keyboard Enter makes a new line; the button sends.
      await th.body.tap();
      await th.body.pressSequentially("No problem.");
      await th.body.press("Enter");
      await th.body.pressSequentially("See you soon.");
      check((await th.body.inputValue()) === "No problem.\nSee you soon.", "Enter makes a new line on a phone");
      await countSays(page, "1 text");
      await screenshot(page, "phone-conversation");
      await th.send.tap();
      await th.bubble("See you soon.").locator(".tick.delivered").waitFor();
      await assertNoHorizontalScroll(page, "a conversation with a reply at 360 px");

      // Send later's time and zone fit the screen too.
      await page.locator(".send-later summary").tap();
      await page.getByLabel("Send at").waitFor();
      await assertNoHorizontalScroll(page, "the composer with Send later open at 360 px");
      await screenshot(page, "phone-send-later");
      await page.locator(".send-later summary").tap();

      await page.locator(".actions-menu > summary").tap();
      await page.getByRole("button", { name: "Resolve" }).waitFor();
      await Promise.all([page.waitForURL(/\/inbox$/), page.getByRole("link", { name: "← Inbox" }).tap()]);
      await page.locator("#list").waitFor();
    },
  },

  {
    name: "admin-settings",
    async run({ newContext }) {
      const ctx = await newContext({ permissions: ["clipboard-read", "clipboard-write"] });
      const page = await ctx.newPage();
      await signIn(page, env.admin);
      await Promise.all([page.waitForURL(/\/settings\/inboxes$/), page.getByRole("link", { name: "Settings" }).click()]);

      // Add a simulator inbox.
      await page.locator("#add-simulator summary").click();
      const add = page.locator("#add-simulator form");
      await add.getByLabel("Name").fill("Walk-ins");
      await add.getByLabel("Number").fill("+14155550142");
      await Promise.all([
        page.waitForURL(/\/settings\/inboxes\/\d+$/),
        add.getByRole("button", { name: "Add simulator inbox" }).click(),
      ]);
      await page.getByRole("heading", { name: "Walk-ins" }).waitFor();

      // Business hours: a typo is named and kept; fixed, it saves.
      const hours = page.locator("form#hours");
      // Pickers per day and a zone chosen from a list; a mistake is told in plain words and kept to fix.
      await hours.getByLabel("Open around the clock").uncheck();
      await hours.getByLabel("Time zone").selectOption("America/Los_Angeles");
      await hours.getByLabel("Monday opens at").fill("09:00");
      await hours.getByLabel("Monday closes at").fill("17:00");
      await hours.getByLabel("Tuesday opens at").fill("17:00");
      await hours.getByLabel("Tuesday closes at").fill("09:00");
      await Promise.all([page.waitForNavigation(), hours.getByRole("button", { name: "Save hours" }).click()]);
      await page.locator("#hours-error", { hasText: "Tuesdays: closing time 09:00 is not after opening time 17:00" }).waitFor();
      const again = page.locator("form#hours");
      check((await again.getByLabel("Tuesday opens at").inputValue()) === "17:00", "the mistake is kept to fix");
      check((await again.getByLabel("Monday closes at").inputValue()) === "17:00", "the other days are kept too");
      check((await again.getByLabel("Time zone").inputValue()) === "America/Los_Angeles", "the zone is kept");
      await screenshot(page, "settings-hours-error");
      await again.getByLabel("Tuesday opens at").fill("09:00");
      await again.getByLabel("Tuesday closes at").fill("17:00");
      await again.getByLabel("Holidays").fill("2026-12-25");
      await Promise.all([
        page.waitForURL(/saved=hours/),
        again.getByRole("button", { name: "Save hours" }).click(),
      ]);
      await page.getByRole("status").filter({ hasText: "Business hours saved" }).waitFor();
      check(
        (await page.locator("form#hours").getByLabel("Tuesday opens at").inputValue()) === "09:00",
        "the saved hours show",
      );

      // The Twilio inbox's webhook address, to paste into the console, with a copy button.
      await page.goto(`${env.base}/settings/inboxes/${env.twilioInbox}`);
      const inbound = page.getByLabel("A message comes in (HTTP POST)");
      check((await inbound.inputValue()) === env.twilioInboundUrl, "the inbound webhook address is shown");
      await page.getByRole("button", { name: "Copy the incoming-message address" }).click();
      await page.getByRole("button", { name: /Copied/ }).first().waitFor();
      await screenshot(page, "settings-twilio-inbox");

      // The same pages fit a phone.
      await page.setViewportSize(PHONE);
      await page.goto(`${env.base}/settings/inboxes/${env.twilioInbox}`);
      await assertNoHorizontalScroll(page, "an inbox's settings at 360 px");
      await screenshot(page, "phone-settings-inbox");
      await page.goto(`${env.base}/settings/inboxes`);
      await assertNoHorizontalScroll(page, "the inbox list at 360 px");
      await page.goto(`${env.base}/settings/users`);
      await assertNoHorizontalScroll(page, "people and teams at 360 px");
      await screenshot(page, "phone-settings-users");
    },
  },
];
