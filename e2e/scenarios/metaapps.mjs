// Messenger's human-agent window and the Messenger and WeChat inbox settings.
// An agent opens a Messenger conversation whose customer last wrote 30 hours
// ago (seeded by browser.rs through the fake Send API): the window note and
// the composer say the reply goes as a human agent's, the reply is sent and
// reaches the fake. Then each inbox's settings at 1280 and 390 px: the
// webhook address with its Copy button and where to paste it.
import { env, check, signIn, thread, openConversation, assertNoHorizontalScroll, screenshot, eventually, countSays } from "../lib.mjs";

const conversation = process.env.TEXTDESK_MS_CONVERSATION;
const messengerInbox = process.env.TEXTDESK_MS_INBOX;
const wechatInbox = process.env.TEXTDESK_WX_INBOX;

export const scenarios = [
  {
    name: "metaapps-messenger-window",
    async run({ newContext }) {
      check(conversation, "TEXTDESK_MS_CONVERSATION is set by browser.rs");
      const page = await (await newContext()).newPage();
      await signIn(page, env.agent);
      await openConversation(page, conversation);
      const th = thread(page);
      await th.bubble("Is my order on its way?").waitFor();
      const note = page.locator("#window-note");
      check((await note.textContent()).includes("still takes your reply as a human agent"), "the window is said in words");
      await th.body.fill("It ships today; tracking follows.");
      await countSays(page, "33 characters");
      await th.meta.getByText("goes as a human agent's reply").waitFor();
      await assertNoHorizontalScroll(page, "the Messenger conversation at 1280 px");
      await screenshot(page, "metaapps-messenger-1280");
      await th.send.click();
      const sent = th.bubble("It ships today; tracking follows.");
      await sent.waitFor();
      await eventually("the reply reaches Messenger", async () => (await sent.locator("[data-status]").textContent()).includes("Sent"));

      const phone = await (await newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true })).newPage();
      await signIn(phone, env.agent);
      await openConversation(phone, conversation);
      await phone.locator("#window-note").waitFor();
      await thread(phone).body.fill("Anything else?");
      await countSays(phone, "14 characters");
      await thread(phone).meta.getByText("goes as a human agent's reply").waitFor();
      await assertNoHorizontalScroll(phone, "the Messenger conversation at 390 px");
      await screenshot(phone, "metaapps-messenger-390");
    },
  },
  {
    name: "metaapps-settings",
    async run({ newContext }) {
      check(messengerInbox && wechatInbox, "TEXTDESK_MS_INBOX and TEXTDESK_WX_INBOX are set by browser.rs");
      const inboxes = [
        [messengerInbox, "messenger", "Callback URL", "message_deliveries"],
        [wechatInbox, "wechat", "Server address (URL)", "EncodingAESKey"],
      ];
      for (const [id, kind, label, hint] of inboxes) {
        for (const [width, height] of [[1280, 800], [390, 844]]) {
          const page = await (await newContext({ viewport: { width, height } })).newPage();
          await signIn(page, env.admin);
          await page.goto(`${env.base}/settings/inboxes/${id}`);
          const url = page.getByLabel(label);
          check((await url.inputValue()).endsWith(`/webhooks/${kind}/${id}`), `the ${kind} webhook address is shown`);
          await page.locator("#webhooks button[data-copy]").waitFor();
          await page.locator("#webhooks", { hasText: hint }).waitFor();
          check(!(await page.content()).includes("(HTTP POST)"), "Meta and WeChat check the address with a GET first");
          await assertNoHorizontalScroll(page, `the ${kind} inbox settings at ${width} px`);
          await screenshot(page, `metaapps-${kind}-settings-${width}`);
        }
      }
    },
  },
];
