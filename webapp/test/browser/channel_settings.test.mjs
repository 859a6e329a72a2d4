// Browser tests of the "Teams channels" settings section, in the host page against a real Mattermost with the
// plugin (see webapp.test.mjs for the host). The e2e suite's TestChannelSettingsInChromium prepares a connected
// user and runs this file twice, passing:
//   E2E_MM_URL                Mattermost site URL
//   E2E_CHANNELS_USER_TOKEN   session token of that user
//   E2E_CHANNELS_PHASE        "off": the admin setting is off; "on": it is on and the user never changed a choice
// Without E2E_CHANNELS_USER_TOKEN (the plain `npm run test:browser` of TestWebappInChromium) the tests are skipped.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, before, describe, test} from 'node:test';
import {fileURLToPath} from 'node:url';

import {chromium} from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const webappDir = path.resolve(here, '../..');
const artifacts = path.join(webappDir, 'test-artifacts');
const pluginId = 'com.mattermost.msteams-sync';
const MM = (process.env.E2E_MM_URL ?? '').replace(/\/+$/, '');
const hostURL = `${MM}/__plugin_host__`;
const token = process.env.E2E_CHANNELS_USER_TOKEN;
const phase = process.env.E2E_CHANNELS_PHASE;
const skip = !token || !MM ? 'needs E2E_MM_URL and E2E_CHANNELS_USER_TOKEN (set by the e2e TestChannelSettingsInChromium)' : false;
const route = `/plugins/${pluginId}/api/v1/me/channel-notifications`;

const groupLabel = 'Mentions of a team, channel or tag you are in';
const repliesLabel = 'Replies in threads you started or replied in';

let browser;

async function rest(method, urlPath) {
    const resp = await fetch(`${MM}${urlPath}`, {method, headers: {Authorization: `Bearer ${token}`}});
    const text = await resp.text();
    if (!resp.ok) {
        throw new Error(`${method} ${urlPath}: ${resp.status} ${text}`);
    }
    return JSON.parse(text);
}

async function shot(page, name) {
    fs.mkdirSync(artifacts, {recursive: true});
    await page.screenshot({path: path.join(artifacts, `${name}.png`), fullPage: true});
}

// openSettings opens the plugin's settings in the host page and returns the "Teams channels" section.
async function openSettings() {
    const context = await browser.newContext({viewport: {width: 1000, height: 1200}});
    await context.addCookies([{name: 'MMAUTHTOKEN', value: token, url: MM, httpOnly: true}]);
    const html = fs.readFileSync(path.join(webappDir, 'test/host/index.html'), 'utf8')
        .replace('/*HOST*/', () => fs.readFileSync(path.join(webappDir, 'test/host/dist/host.js'), 'utf8').replace(/<\/script/g, '<\\/script'));
    await context.route(hostURL, (route) => route.fulfill({status: 200, contentType: 'text/html', body: html}));
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err));
    await page.goto(hostURL);
    await page.evaluate(() => window.__host.ready);
    await page.evaluate(() => window.__host.show('settings'));
    const section = page.locator('section', {has: page.getByRole('heading', {name: 'Teams channels', exact: true})});
    await section.waitFor();
    return {context, page, section, errors};
}

before(async () => {
    if (skip) {
        return;
    }
    browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
            '--disable-features=LocalNetworkAccessChecks'],
    });
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
