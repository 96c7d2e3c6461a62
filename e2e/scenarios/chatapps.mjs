// Telegram and LINE inbox settings (seeded by browser.rs against the fakes of
// their APIs): each page shows the webhook address with its Copy button, says
// that textdesk registers it itself, shows no secret, and "Register webhook"
// tells the provider again and says so. At 1280 px and on a phone (390 px).
import { env, check, signIn, assertNoHorizontalScroll, screenshot } from "../lib.mjs";

const inboxes = [
  ["telegram", "Telegram", process.env.TEXTDESK_TG_INBOX],
  ["line", "LINE", process.env.TEXTDESK_LINE_INBOX],
];

export const scenarios = [
  {
    name: "chatapps-settings",
    async run({ newContext }) {
      for (const [key, label, inbox] of inboxes) {
        check(inbox, `the ${label} inbox is set by browser.rs`);
        for (const [width, height] of [[1280, 800], [390, 844]]) {
          const page = await (await newContext({ viewport: { width, height } })).newPage();
          await signIn(page, env.admin);
          // Settings pages have no live connection: plain navigation.
          await page.goto(`${env.base}/settings/inboxes/${inbox}`);
          const url = page.getByLabel("Webhook URL");
          check((await url.inputValue()).endsWith(`/webhooks/${key}/${inbox}`), `the ${label} webhook URL is shown`);
          await page.locator("#webhooks button[data-copy]").waitFor();
          await page.locator("#webhooks .hint", { hasText: "textdesk" }).waitFor();
          const register = page.locator("#register-webhook").getByRole("button", { name: "Register webhook" });
          await Promise.all([page.waitForNavigation({ waitUntil: "load" }), register.click()]);
          await page.locator("#webhooks [role=status]", { hasText: `${label} will post to this address.` }).waitFor();
          check(!(await page.content()).includes("bot_token\" value"), "no secret is put back in a field");
          await assertNoHorizontalScroll(page, `the ${label} inbox settings at ${width} px`);
          await page.locator("#webhooks").scrollIntoViewIfNeeded();
          await screenshot(page, `${key}-settings-${width}`);
        }
      }
    },
  },
];
