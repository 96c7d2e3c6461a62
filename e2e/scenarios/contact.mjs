// The contact panel, composer attachments and the Enter-to-send preference.
import {
  env, check, textIn, phoneMessages, eventually, signIn, submit, waitLive, settled, thread, openConversation,
  assertNoHorizontalScroll, PHONE, TIMEOUT,
} from "../lib.mjs";

// Seeded by crates/app/tests/app/browser.rs with an old, resolved conversation.
const RETURNING = "+14155559901";

// A small PNG made here: 8×8 pixels of one colour.
function crc32(buf) {
  let c, crc = 0xffffffff;
  for (const b of buf) {
    c = (crc ^ b) & 0xff;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    crc = (crc >>> 8) ^ c;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
async function png() {
  const { deflateSync } = await import("node:zlib");
  const chunk = (type, data) => {
    const len = Buffer.alloc(4); len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4); crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(8, 0); ihdr.writeUInt32BE(8, 4); ihdr[8] = 8; ihdr[9] = 2;
  const rows = [];
  for (let y = 0; y < 8; y++) rows.push(Buffer.from([0, ...Array(8).fill([36, 82, 214]).flat()]));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr), chunk("IDAT", deflateSync(Buffer.concat(rows))), chunk("IEND", Buffer.alloc(0)),
  ]);
}

export const scenarios = [
  {
    name: "contact-panel-edits-notes-and-history",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const { conversation_id: id } = await textIn(page.request, RETURNING, "Hi again, it's about my order");
      await signIn(page, env.agent, `/conversations/${id}`);
      const other = await (await newContext()).newPage();
      await signIn(other, env.agent2, `/conversations/${id}`);
      const th = thread(page);

      await page.locator("#contact-name").fill("Maria Lopez");
      await submit(page, th.panel.locator(".contact-edit button"));
      await page.locator(".thread-head h1", { hasText: "Maria Lopez" }).waitFor();

      await page.locator("#attr-new-key").fill("plan");
      await page.locator("#attr-new-value").fill("gold");
      await submit(page, th.panel.getByRole("button", { name: "Add", exact: true }));
      await th.panel.locator(".attributes label", { hasText: "plan" }).waitFor();
      check((await th.panel.locator(".attributes input[name=value]").inputValue()) === "gold", "the attribute's value is shown");
      // The other agent's open tab shows the change live.
      await thread(other).panel.locator(".attributes label", { hasText: "plan" }).waitFor({ timeout: TIMEOUT });
      await other.locator(".thread-head h1", { hasText: "Maria Lopez" }).waitFor();

      await page.locator("#contact-note").fill("Prefers a call before noon");
      await submit(page, th.panel.getByRole("button", { name: "Add note" }));
      await th.panel.locator(".contact-notes li", { hasText: "Prefers a call before noon" }).waitFor();

      await th.panel.locator("#previous-conversations a", { hasText: "gift cards" }).waitFor();
      await th.panel.locator(".identity", { hasText: "SMS" }).waitFor();
      // Tall enough for the whole panel to be in the picture.
      await page.setViewportSize({ width: 1280, height: 1500 });
      await th.panel.screenshot({ path: `${env.screenshots}/contact-panel.png` });
      await page.setViewportSize({ width: 1280, height: 800 });

      // A bad attribute name is refused in the panel, with the reason.
      await page.locator("#attr-new-key").fill("no spaces");
      await submit(page, th.panel.getByRole("button", { name: "Add", exact: true }));
      await page.locator("#panel-error", { hasText: "letters, digits" }).waitFor();

      // On a phone the panel is a disclosure below the thread.
      await page.setViewportSize(PHONE);
      await openConversation(page, id);
      const summary = th.panel.locator("summary");
      await summary.waitFor();
      await summary.click();
      await th.panel.locator("#contact-name").waitFor({ state: "visible" });
      await assertNoHorizontalScroll(page, "the contact panel at 360 px");
    },
  },
  {
    name: "composer-attachment-and-enter-preference",
    async run({ newContext }) {
      const page = await (await newContext()).newPage();
      const number = "+14155559902";
      const { conversation_id: id } = await textIn(page.request, number, "Can you send a photo of the part?");
      await signIn(page, env.agent, `/conversations/${id}`);
      const th = thread(page);

      await page.locator("#attach").setInputFiles({ name: "part.png", mimeType: "image/png", buffer: await png() });
      await page.locator("#attachments-chosen li[data-media-id] img").waitFor();
      await th.body.fill("Here is the part");
      await th.composer.screenshot({ path: `${env.screenshots}/composer-attachment.png` });
      await th.send.click();
      const sent = th.bubble("Here is the part");
      await sent.locator(".attachment img").waitFor();
      await page.locator("#attachments-chosen li").waitFor({ state: "detached" });
      // The simulated phone gets the picture (an MMS).
      await eventually("the picture on the simulated phone", async () =>
        (await phoneMessages(page.request, number)).some((m) => m.direction === "to_phone" && m.media && m.media.length === 1));

      // A refused file says why.
      await page.locator("#attach").setInputFiles({ name: "logo.svg", mimeType: "image/svg+xml", buffer: Buffer.from("<svg/>") });
      await page.locator("#attach-error", { hasText: "not kept" }).waitFor();

      // Enter to send, off: Enter makes a new line and Ctrl+Enter sends.
      const toggle = page.locator("#enter-sends");
      check(await toggle.isChecked(), "Enter sends by default on a keyboard");
      const saved = page.waitForResponse((r) => r.url().endsWith("/preferences"));
      await toggle.uncheck();
      await saved;
      await page.locator("#composer-hint", { hasText: "Ctrl+Enter to send" }).waitFor();
      await th.body.click();
      await page.keyboard.type("line one");
      await page.keyboard.press("Enter");
      await page.keyboard.type("line two");
      check((await th.body.inputValue()) === "line one\nline two", "Enter made a new line");
      await openConversation(page, id);
      check(!(await toggle.isChecked()), "the preference is kept");
      await th.body.fill("line one\nline two");
      await page.keyboard.press("Control+Enter");
      await th.bubble("line two").waitFor();
      await settled(page);
      // Back to the default for the scenarios after this one.
      const back = page.waitForResponse((r) => r.url().endsWith("/preferences"));
      await toggle.check();
      await back;
      await waitLive(page);
    },
  },
];
