// Browser tests of the "Teams channels" settings section, in the host page against a real Mattermost with the
// plugin (see harness.mjs for the host page). The e2e suite's TestChannelSettingsInChromium prepares a connected
// user and runs this file twice, passing:
//   E2E_MM_URL                Mattermost site URL
//   E2E_CHANNELS_USER_TOKEN   session token of that user
//   E2E_CHANNELS_PHASE        "off": the admin setting is off; "on": it is on and the user never changed a choice
// Without E2E_CHANNELS_USER_TOKEN (the plain `npm run test:browser` of TestWebappInChromium) the tests are skipped.
import assert from 'node:assert/strict';
import {after, before, describe, test} from 'node:test';

import {MM, launchChromium, openHost, pluginId, rest as restAs, shot} from './harness.mjs';

const token = process.env.E2E_CHANNELS_USER_TOKEN;
const phase = process.env.E2E_CHANNELS_PHASE;
const skip = !token || !MM ? 'needs E2E_MM_URL and E2E_CHANNELS_USER_TOKEN (set by the e2e TestChannelSettingsInChromium)' : false;
const route = `/plugins/${pluginId}/api/v1/me/channel-notifications`;

const groupLabel = 'Mentions of a team, channel or tag you are in';
const repliesLabel = 'Replies in threads you started or replied in';

let browser;

const rest = (method, urlPath) => restAs(token, method, urlPath);

// openSettings opens the plugin's settings in the host page and returns the "Teams channels" section.
async function openSettings() {
    const {context, page, errors} = await openHost(browser, token, 'settings', {viewport: {width: 1000, height: 1200}});
    const section = page.locator('section', {has: page.getByRole('heading', {name: 'Teams channels', exact: true})});
    await section.waitFor();
    return {context, page, section, errors};
}

before(async () => {
    if (skip) {
        return;
    }
    browser = await launchChromium();
});

after(async () => {
    await browser?.close();
});

describe('Teams channels settings', {skip}, () => {
    test('say that the system admin has not turned channel notifications on, with nothing to choose', {skip: phase !== 'off' && 'phase "off" only'}, async () => {
        const {context, page, section, errors} = await openSettings();
        try {
            const notice = section.getByTestId('msteams-channels-not-enabled');
            await notice.waitFor();
            assert.equal(await notice.textContent(),
                'Teams channel notifications are not turned on by your system admin, so messages from Teams channels do not reach you here.');
            assert.equal(await section.getByRole('checkbox').count(), 0);
            assert.equal((await rest('GET', route)).enabled, false);
            await shot(page, 'channel-settings-not-enabled');
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('turn on team, channel and tag mentions, saved on the server and shown again on the next visit', {skip: phase !== 'on' && 'phase "on" only'}, async () => {
        let {context, page, section, errors} = await openSettings();
        try {
            const group = section.getByLabel(groupLabel);
            await group.waitFor();
            assert.equal(await group.isChecked(), false, 'personal mentions only by default');
            assert.equal(await section.getByLabel(repliesLabel).isChecked(), true, 'thread replies on by default');
            await shot(page, 'channel-settings-defaults');

            await group.check();
            await section.getByText('You will get mentions of a team, channel or tag you are in.').waitFor();
            assert.deepEqual(await rest('GET', route), {enabled: true, group_mentions: true, thread_replies: true});
            await shot(page, 'channel-settings-group-mentions-on');
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }

        ({context, page, section, errors} = await openSettings());
        try {
            const group = section.getByLabel(groupLabel);
            await group.waitFor();
            assert.equal(await group.isChecked(), true, 'the saved choice is shown');
            assert.equal(await section.getByLabel(repliesLabel).isChecked(), true);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });
});
