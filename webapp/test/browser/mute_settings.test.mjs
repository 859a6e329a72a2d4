// Browser tests of muting, in the host page against a real Mattermost with the plugin (see harness.mjs for
// the host): "Mute this Teams chat" on a forwarded DM, then the "Muted chats and mentions" settings section. The
// e2e suite's TestMuteSettingsInChromium prepares a connected user who received one forwarded DM and passes:
//   E2E_MM_URL              Mattermost site URL
//   E2E_MUTE_USER_TOKEN     session token of that user
//   E2E_MUTE_POST_ID        the forwarded DM (a bot post carrying msteams_chat_id)
//   E2E_MUTE_CHAT_TITLE     the title its chat is listed under once muted
// Without E2E_MUTE_USER_TOKEN (the plain `npm run test:browser` of TestWebappInChromium) the tests are skipped.
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {MM, launchChromium, openHost, pluginId, rest as restAs, shot} from './harness.mjs';

const token = process.env.E2E_MUTE_USER_TOKEN;
const title = process.env.E2E_MUTE_CHAT_TITLE;
const postId = process.env.E2E_MUTE_POST_ID;
const skip = !token || !MM ? 'needs E2E_MM_URL and E2E_MUTE_USER_TOKEN (set by the e2e TestMuteSettingsInChromium)' : false;

let browser;

const rest = (method, urlPath) => restAs(token, method, urlPath);

const openSettings = () => openHost(browser, token, 'settings', {viewport: {width: 1000, height: 900}});

before(async () => {
    if (skip) {
        return;
    }
    browser = await launchChromium();
});

after(async () => {
    await browser?.close();
});

describe('muted chats and mentions', {skip}, () => {
    test('"Mute this Teams chat" in a forwarded DM\'s menu mutes its chat', async () => {
        const {context, page, errors} = await openSettings();
        try {
            // Mattermost hands the menu the post from its store; the host's store gets the real DM from the server.
            await page.evaluate(async (id) => {
                const resp = await fetch(`/api/v4/posts/${id}`, {credentials: 'include', headers: {'X-Requested-With': 'XMLHttpRequest'}});
                window.__host.store.dispatch({type: 'RECEIVED_POST', data: await resp.json()});
            }, postId);
            const offered = await page.evaluate((id) => window.__host.registered.postMenu
                .map((m) => ({text: m.text, forDM: m.filter ? m.filter(id) : true, forOther: m.filter ? m.filter('some-other-post') : true})), postId);
            assert.deepEqual(offered, [{text: 'Mute this Teams chat', forDM: true, forOther: false}]);

            await page.evaluate((id) => window.__host.registered.postMenu[0].action(id), postId);
            const notice = page.getByTestId('msteams-mute-notice');
            await notice.waitFor();
            assert.match(await notice.textContent(), new RegExp(`Muted the Teams chat ${title}`));
            await shot(page, 'mute-menu-notice');
            const muted = (await rest('GET', `/plugins/${pluginId}/api/v1/me/muted-chats`)).chats;
            assert.deepEqual(muted.map((c) => c.title), [title]);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('the settings list the muted chat, change the mode and unmute it', async () => {
        const {context, page, errors} = await openSettings();
        try {
            const item = page.getByTestId('msteams-muted-chat');
            await item.waitFor();
            assert.equal(await item.count(), 1);
            assert.match(await item.textContent(), new RegExp(title));
            assert.ok(await page.getByLabel('Every message').isChecked(), 'every message by default');
            await shot(page, 'mute-settings-muted');

            await page.getByLabel('only messages that mention me').check();
            await page.getByText('only messages that mention you will be forwarded', {exact: false}).waitFor();
            assert.equal((await rest('GET', `/plugins/${pluginId}/api/v1/me/message-mode`)).mode, 'mentions');

            await page.getByRole('button', {name: `Unmute ${title}`}).click();
            await page.getByText(`${title} is unmuted`, {exact: false}).waitFor();
            assert.equal(await page.getByTestId('msteams-muted-chat').count(), 0);
            assert.deepEqual((await rest('GET', `/plugins/${pluginId}/api/v1/me/muted-chats`)).chats, []);
            await shot(page, 'mute-settings-unmuted');
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });
});
