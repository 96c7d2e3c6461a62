// The live connection (losing it and catching up), browser notifications and
// keyboard shortcuts.
import {
  env, check, textIn, signIn, waitLive, settled, markDocument, assertNotReloaded, screenshot, customerNumber, TIMEOUT,
  thread, openConversation,
} from "../lib.mjs";

const liveState = (page) => page.locator("#live-state");

/** Records every `new Notification(...)` the page makes (the real one still runs). */
function recordNotifications() {
  const Real = window.Notification;
  window.__notes = [];
  function Recorded(title, options) {
    const entry = { title, body: options && options.body, tag: options && options.tag, n: null };
    window.__notes.push(entry);
    try {
      entry.n = new Real(title, options);
    } catch {
      entry.n = { close() {} };
    }
    return entry.n;
  }
  Object.defineProperty(Recorded, "permission", { get: () => Real.permission });
  Recorded.requestPermission = (...a) => Real.requestPermission(...a);
  window.Notification = Recorded;
}
const notes = (page) => page.evaluate(() => window.__notes.map(({ title, body, tag }) => ({ title, body, tag })));

/** The hrefs of the list's rows, in order, and which one is open. */
async function listRows(page) {
  return page.evaluate(() => {
    const links = [...document.querySelectorAll("#list .row > a")];
    return { hrefs: links.map((a) => new URL(a.href).pathname), active: links.findIndex((a) => a.parentNode.classList.contains("active")) };
  });
}

export const scenarios = [
  {
    name: "live-reconnect",
    async run({ newContext }) {
      const ctx = await newContext();
      const page = await ctx.newPage();
      const customer = (await newContext()).request;
      const number = customerNumber();
      const { conversation_id: id } = await textIn(customer, number, "Is my crown ready?");
      await signIn(page, env.agent);
      await openConversation(page, id);
      const th = thread(page);
      await th.bubble("Is my crown ready?").waitFor();
      check((await liveState(page).getAttribute("role")) === "status", "the live state is announced (role=status)");
      await markDocument(page);

      // The agent's network goes away: the page says so.
      await ctx.setOffline(true);
      await liveState(page).filter({ hasText: "Reconnecting…" }).waitFor();
      await screenshot(page, "live-reconnecting");

      // The customer texts meanwhile; the page cannot know yet.
      await textIn(customer, number, "Also, can I come at 4?");
      await page.waitForTimeout(700);
      check((await th.bubble("can I come at 4").count()) === 0, "nothing arrives while offline");

      // Back online: the page resumes from the last event it saw and shows the text, without a reload.
      await ctx.setOffline(false);
      await liveState(page).filter({ hasText: "Live" }).waitFor();
      await th.bubble("can I come at 4").waitFor();
      await settled(page);
      await assertNotReloaded(page, "catching up after a lost connection");
    },
  },

  {
    name: "live-notifications",
    async run({ newContext }) {
      // Permission not yet given: the offer shows; "Not now" is remembered.
      const fresh = await (await newContext()).newPage();
      await signIn(fresh, env.agent2);
      const permission = await fresh.evaluate(() => Notification.permission);
      const offer = fresh.getByRole("button", { name: "Enable notifications" });
      if (permission === "default") {
        await offer.waitFor();
        await fresh.getByRole("button", { name: "Do not ask about notifications again" }).click();
        await offer.waitFor({ state: "hidden" });
        await fresh.reload();
        await waitLive(fresh);
        check(!(await offer.isVisible()), "dismissed once, the offer does not come back");
      } else {
        check(!(await offer.isVisible()), `no offer when permission is ${permission}`);
      }

      // Granted: a customer's text notifies, naming the contact.
      const ctx = await newContext();
      await ctx.grantPermissions(["notifications"], { origin: env.base });
      await ctx.addInitScript(recordNotifications);
      const page = await ctx.newPage();
      await signIn(page, env.agent);
      check(!(await page.getByRole("button", { name: "Enable notifications" }).isVisible()), "no offer once granted");
      const customer = (await newContext()).request;
      const number = customerNumber();
      const { conversation_id: id } = await textIn(customer, number, "Do you take walk-ins?");
      await page.waitForFunction(() => window.__notes.length === 1, null, { timeout: TIMEOUT });
      const [n] = await notes(page);
      check(n.title === number || n.title.length > 0, `the notification names the contact: ${JSON.stringify(n)}`);
      check(n.body.includes("Do you take walk-ins?"), `the notification previews the text: ${JSON.stringify(n)}`);

      // Clicking it opens the conversation.
      await Promise.all([
        page.waitForURL((u) => u.pathname === `/conversations/${id}`),
        page.evaluate(() => window.__notes[0].n.onclick()),
      ]);
      await waitLive(page);

      // The agent's own reply notifies nobody; nor does a text in the open, visible conversation.
      const th = thread(page);
      await th.body.fill("Yes, until 3 pm.");
      await th.body.press("Enter");
      await th.bubble("Yes, until 3 pm.").locator(".tick.delivered").waitFor();
      await textIn(customer, number, "Great, see you");
      await th.bubble("Great, see you").waitFor();
      await settled(page);
      await page.waitForTimeout(300);
      const after = await notes(page);
      check(after.length === 0, `no notification for the agent's reply or the open conversation: ${JSON.stringify(after)}`);
    },
  },

  {
    name: "live-shortcuts",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const customer = (await newContext()).request;
      await textIn(customer, customerNumber(), "First in line");
      await textIn(customer, customerNumber(), "Second in line");
      await signIn(page, env.agent);

      // "?" lists the shortcuts in a dialog; Escape closes it and focus returns.
      await page.locator(".brand").focus();
      await page.keyboard.press("?");
      const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
      await help.waitFor();
      for (const what of ["Next conversation", "Previous conversation", "Assign to me", "Resolve", "Write a reply", "Search"]) {
        check(await help.getByText(what).isVisible(), `the help lists "${what}"`);
      }
      await screenshot(page, "shortcuts-help");
      await page.keyboard.press("Escape");
      await help.waitFor({ state: "hidden" });
      // (The dialog's close event, which gives focus back, comes a moment after it hides.)
      await page.waitForFunction(() => document.activeElement.classList.contains("brand"), null, { timeout: TIMEOUT });

      // "/" focuses search.
      await page.keyboard.press("/");
      await page.waitForFunction(() => document.activeElement.id === "q", null, { timeout: 3000 })
        .catch(() => { throw new Error("/ focuses the search field"); });
      await page.keyboard.press("Escape");

      // "j" opens the first conversation, again the next one; "k" the previous.
      const rows = await listRows(page);
      check(rows.hrefs.length >= 2, "at least two conversations to move between");
      await Promise.all([page.waitForURL((u) => u.pathname === rows.hrefs[0]), page.keyboard.press("j")]);
      await waitLive(page);
      let now = await listRows(page);
      const next = now.hrefs[now.active + 1];
      await Promise.all([page.waitForURL((u) => u.pathname === next), page.keyboard.press("j")]);
      await waitLive(page);
      now = await listRows(page);
      const prev = now.hrefs[now.active - 1];
      await Promise.all([page.waitForURL((u) => u.pathname === prev), page.keyboard.press("k")]);
      await waitLive(page);
      const here = new URL(page.url()).pathname;

      // "a" assigns the open conversation to me, through the same form as the button.
      const assignToMe = page.getByRole("button", { name: "Assign to me" });
      if (await assignToMe.count()) {
        await Promise.all([page.waitForNavigation(), page.keyboard.press("a")]);
        await waitLive(page);
      }
      check((await assignToMe.count()) === 0, "assigned to me: the button is gone");
      const chosen = await page.locator("#assignee option:checked").textContent();
      check(chosen.trim() === env.agent.name, `the assignee is me, not ${chosen}`);

      // "r" focuses the composer; typing "j" there writes, it does not navigate.
      const th = thread(page);
      await page.keyboard.press("r");
      check(await page.evaluate(() => document.activeElement.name === "body"), "r focuses the composer");
      await page.keyboard.type("j");
      await page.waitForTimeout(300);
      check(new URL(page.url()).pathname === here, "typing j in the composer stays here");
      check((await th.body.inputValue()) === "j", "the j is in the composer");
      await th.body.fill("");
      await page.keyboard.press("Escape");

      // "e" resolves, like the Resolve button (which moves on to the next conversation, or the inbox).
      await Promise.all([page.waitForURL((u) => u.pathname !== here), page.keyboard.press("e")]);
      await waitLive(page);
      await page.goto(`${env.base}${here}`);
      await waitLive(page);
      await thread(page).status.filter({ hasText: "resolved" }).waitFor();
    },
  },
];
