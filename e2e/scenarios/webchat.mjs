// The web chat widget on a business's own site: the scenario serves a test
// page on another origin with the one <script> tag, an admin allows that site
// in the inbox settings, a visitor chats in the widget, an agent answers live,
// the visitor leaves a number to continue by text, reads the code texted to it
// off the simulator phone and types it (a wrong one first, refused aloud), and
// the conversation goes on from the simulator phone. Screenshots of the widget and the agent's
// thread at 1280 and 390 px.
import http from "node:http";
import {
  env, check, signIn, thread, openConversation, assertNoHorizontalScroll, screenshot, eventually, customerNumber,
  phoneMessages, textIn, waitLive,
} from "../lib.mjs";

const inbox = process.env.TEXTDESK_WEBCHAT_INBOX;

/** A shop's page with the widget's tag, on its own origin (another port). */
async function shopSite() {
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bright Smiles</title></head><body style="font-family:sans-serif;margin:2rem"><h1>Bright Smiles dental</h1>
<p>Book your next visit online, or chat with us.</p><script src="${env.base}/widget/${inbox}.js" async></script></body></html>`);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return { server, origin: `http://127.0.0.1:${server.address().port}` };
}

export const scenarios = [
  {
    name: "webchat",
    async run({ newContext }) {
      check(inbox, "TEXTDESK_WEBCHAT_INBOX is set by browser.rs");
      const { server, origin } = await shopSite();
      try {
        // The admin allows the shop's site and copies the tag.
        const admin = await (await newContext()).newPage();
        await signIn(admin, env.admin);
        await admin.goto(`${env.base}/settings/inboxes/${inbox}`);
        check((await admin.getByLabel("The tag").inputValue()).includes(`/widget/${inbox}.js`), "the tag to paste is shown");
        await admin.getByLabel("Sites that may show the chat").fill(origin);
        await admin.getByLabel("Continue by text through").selectOption(env.inbox);
        await Promise.all([admin.waitForNavigation({ waitUntil: "load" }), admin.getByRole("button", { name: "Save the widget" }).click()]);
        await admin.locator("#widget [role=status]", { hasText: "Saved" }).waitFor();
        await admin.locator("#widget").scrollIntoViewIfNeeded();
        await screenshot(admin, "webchat-settings-1280");
        // The printable "text us" page, linked from the settings: the number and its QR code.
        await Promise.all([admin.waitForNavigation({ waitUntil: "load" }), admin.locator("#text-us a", { hasText: "text us" }).click()]);
        await admin.locator(".text-us-qr svg").waitFor();
        check((await admin.locator(".text-us-number").textContent()).includes("+1"), "the number is shown");
        await screenshot(admin, "text-us-1280");
        const textUs = admin.url();

        // A visitor on the shop's site opens the chat with the keyboard and writes.
        const visitor = await (await newContext()).newPage();
        await visitor.goto(origin);
        const chat = visitor.frameLocator("iframe[data-textdesk-chat]");
        const bubble = chat.getByRole("button", { name: "Chat with" });
        await bubble.focus();
        await visitor.keyboard.press("Enter");
        await chat.getByText("Hi! How can we help?").waitFor();
        check(await chat.getByLabel("Your message").evaluate((e) => e === document.activeElement), "opening the chat puts the cursor in the message box");
        await chat.getByLabel("Your message").fill("Do you have anything on Saturday morning?");
        await chat.getByRole("button", { name: "Send" }).first().click();
        await chat.locator("#wc-log li.visitor", { hasText: "Saturday morning" }).waitFor();

        // The agent finds it in the inbox and answers; the visitor sees it without reloading.
        const agent = await (await newContext()).newPage();
        await signIn(agent, env.agent);
        const r = agent.locator("#list .row", { hasText: "Saturday morning" });
        await r.waitFor();
        await Promise.all([agent.waitForURL(/\/conversations\/\d+/), r.locator("a").first().click()]);
        await waitLive(agent);
        const conversation = agent.url().match(/\/conversations\/(\d+)/)[1];
        const th = thread(agent);
        await th.bubble("Saturday morning").waitFor();
        await th.body.fill("Yes, 9:30 is free. Shall I book it?");
        await th.body.press("Enter");
        await th.bubble("9:30 is free").waitFor();
        await chat.locator("#wc-log li.business", { hasText: "9:30 is free" }).waitFor();
        check((await chat.locator("#wc-log[aria-live=polite]").count()) === 1, "new messages are announced");
        await assertNoHorizontalScroll(visitor, "the shop page with the chat open at 1280 px");
        await screenshot(visitor, "webchat-widget-1280");

        // The visitor continues by text, agreeing to the words shown.
        const number = customerNumber();
        await chat.getByText("Continue by text message instead").click();
        await chat.getByLabel("Your mobile number").fill(number);
        const words = await chat.locator("#wc-words").textContent();
        check(words.includes("may text me at this number"), `the words agreed to are shown: ${words}`);
        await chat.getByLabel(words.trim()).check();
        await chat.getByRole("button", { name: "Text me a code" }).click();
        // Nothing moves yet: a code goes to the number, through the simulator.
        const codeBox = chat.getByLabel("The 6-digit code we texted you");
        await codeBox.waitFor();
        check(await codeBox.evaluate((e) => e === document.activeElement), "the cursor waits in the code box");
        check((await codeBox.getAttribute("autocomplete")) === "one-time-code", "phones offer the texted code");
        check((await codeBox.getAttribute("inputmode")) === "numeric", "phones show the number pad");
        const codeText = await eventually("the code reaches the phone", async () =>
          (await phoneMessages(agent.request, number)).find((m) => m.direction === "to_phone" && /code is \d{6}/.test(m.body)));
        check(codeText.body.includes("Reply STOP"), `the code's text says how to stop: ${codeText.body}`);
        const code = codeText.body.match(/code is (\d{6})/)[1];
        await chat.locator("#wc-code-sent", { hasText: "We texted a 6-digit code" }).waitFor();
        const wrong = code === "000000" ? "111111" : "000000";
        await codeBox.fill(wrong);
        await chat.getByRole("button", { name: "Continue by text", exact: true }).click();
        await chat.locator("#wc-error[role=alert]", { hasText: "not the code we sent" }).waitFor();
        check(await chat.locator("#wc-moved").isHidden(), "a wrong code moves nothing");
        await assertNoHorizontalScroll(visitor, "the code step at 1280 px");
        await screenshot(visitor, "webchat-code-1280");
        await codeBox.fill(code);
        await chat.getByRole("button", { name: "Continue by text", exact: true }).click();
        await chat.locator("#wc-moved", { hasText: "continue by text message" }).waitFor();

        // The agent sees the move in the thread; the next reply reaches the simulator phone.
        await openConversation(agent, conversation);
        await th.event("Moved from web chat to SMS").waitFor();
        await th.body.fill("Booked for 9:30 Saturday. See you then!");
        await th.body.press("Enter");
        await th.bubble("See you then").waitFor();
        await eventually("the reply reaches the phone by SMS", async () =>
          (await phoneMessages(agent.request, number)).some((m) => m.direction === "to_phone" && m.body.includes("See you then")));
        await textIn(agent.request, number, "Thanks!");
        await th.bubble("Thanks!").waitFor();
        await assertNoHorizontalScroll(agent, "the moved conversation at 1280 px");
        await screenshot(agent, "webchat-thread-1280");

        // On a phone: the widget fills the screen, and the agent's thread fits.
        const small = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };
        const visitor2 = await (await newContext(small)).newPage();
        await visitor2.goto(origin);
        const chat2 = visitor2.frameLocator("iframe[data-textdesk-chat]");
        await chat2.getByRole("button", { name: "Chat with" }).tap();
        await chat2.getByLabel("Your message").fill("Is there parking nearby?");
        await chat2.getByRole("button", { name: "Send" }).first().tap();
        await chat2.locator("#wc-log li.visitor", { hasText: "parking" }).waitFor();
        const width = await visitor2.locator("iframe[data-textdesk-chat]").evaluate((f) => f.getBoundingClientRect().width);
        check(width === 390, `the open chat fills a phone's width (${width} px)`);
        await screenshot(visitor2, "webchat-widget-390");
        // The code step on a phone: asked for, then a new one.
        const number2 = customerNumber();
        await chat2.getByText("Continue by text message instead").tap();
        await chat2.getByLabel("Your mobile number").fill(number2);
        await chat2.locator("#wc-agree").check();
        await chat2.getByRole("button", { name: "Text me a code" }).tap();
        await chat2.getByLabel("The 6-digit code we texted you").waitFor();
        await chat2.getByRole("button", { name: "Send a new code" }).tap();
        await eventually("two codes reach the second phone", async () =>
          (await phoneMessages(agent.request, number2)).filter((m) => /code is \d{6}/.test(m.body)).length === 2);
        await assertNoHorizontalScroll(visitor2, "the code step at 390 px");
        await screenshot(visitor2, "webchat-code-390");
        const agent2 = await (await newContext(small)).newPage();
        await signIn(agent2, env.agent);
        await openConversation(agent2, conversation);
        await thread(agent2).event("Moved from web chat to SMS").waitFor();
        await assertNoHorizontalScroll(agent2, "the moved conversation at 390 px");
        await screenshot(agent2, "webchat-thread-390");
        const poster = await (await newContext(small)).newPage();
        await poster.goto(textUs);
        await poster.locator(".text-us-qr svg").waitFor();
        await assertNoHorizontalScroll(poster, "the text us page at 390 px");
        await screenshot(poster, "text-us-390");
      } finally {
        server.close();
      }
    },
  },
];
