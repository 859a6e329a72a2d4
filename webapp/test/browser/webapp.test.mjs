// Browser tests: the built plugin bundle, loaded by a real Mattermost server into a host page in headless
// Chromium, talking to that server. The server (with the plugin installed and its sign-in pointed at graphsim)
// is started by the e2e suite, which passes it in:
//   E2E_MM_URL       Mattermost site URL, e.g. http://127.0.0.1:8065
//   E2E_ADMIN_TOKEN  session token of a system administrator
//   E2E_USER_TOKEN   session token of a regular user whose email is a Teams account on the sign-in page
// Screenshots go to test-artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, before, describe, test} from 'node:test';

import {MM, launchChromium, openHost as openHostIn, pluginBase, pluginId, rest, shot, webappDir} from './harness.mjs';

const required = ['E2E_MM_URL', 'E2E_ADMIN_TOKEN', 'E2E_USER_TOKEN'];
const missing = required.filter((k) => !process.env[k]);

let browser;
let user; // the regular user's Mattermost account

const userToken = () => process.env.E2E_USER_TOKEN;
const adminToken = () => process.env.E2E_ADMIN_TOKEN;

// openHost opens the host page logged in with token and shows one screen.
const openHost = (token, screen) => openHostIn(browser, token, screen, {ignoreHTTPSErrors: true, viewport: {width: 1000, height: 800}, acceptDownloads: true});

async function me() {
    return rest(userToken(), 'GET', `/plugins/${pluginId}/api/v1/me`);
}

async function notificationsPreference() {
    // The by-name route does not accept a category with dots, so read them all.
    const prefs = await rest(userToken(), 'GET', `/api/v4/users/${user.id}/preferences`);
    return prefs.find((p) => p.category === `pp_${pluginId}` && p.name === 'notifications')?.value;
}

before(async () => {
    if (missing.length > 0) {
        throw new Error(`The browser tests need a running Mattermost with the plugin: set ${missing.join(', ')} ` +
            '(the e2e suite sets them; see webapp/README.md).');
    }
    browser = await launchChromium();
    user = await rest(userToken(), 'GET', '/api/v4/users/me');
});

after(async () => {
    await browser?.close();
});

describe('webapp bundle', () => {
    test('the server serves this build of dist/main.js', async () => {
        const manifests = await rest(userToken(), 'GET', '/api/v4/plugins/webapp');
        const m = manifests.find((x) => x.id === pluginId);
        assert.ok(m, 'the plugin is enabled with a webapp');
        // Mattermost's web app loads /static/<id>/<file> from /static/plugins/<id>/<file>.
        const resp = await fetch(`${MM}${m.webapp.bundle_path.replace(/^\/static\//, '/static/plugins/')}`);
        assert.equal(resp.status, 200);
        const served = await resp.text();
        const built = fs.readFileSync(path.join(webappDir, 'dist/main.js'), 'utf8');
        assert.ok(served === built, `the installed bundle (${served.length} bytes) is not webapp/dist/main.js (${built.length} bytes); rebuild the plugin bundle`);
    });
});

describe('user settings', () => {
    test('a disconnected user is offered Connect, with notifications locked', async () => {
        if ((await me()).connected) {
            await rest(userToken(), 'POST', `/plugins/${pluginId}/api/v1/me/disconnect`, {});
        }
        const {context, page, errors} = await openHost(userToken(), 'settings');
        try {
            await page.getByTestId('msteams-disconnected').waitFor();
            assert.equal(await page.getByRole('button', {name: 'Connect account'}).count(), 1);
            assert.equal(await page.getByRole('button', {name: 'Disconnect'}).count(), 0);
            assert.ok(await page.getByLabel('On', {exact: true}).isDisabled());
            assert.ok(!(await page.getByLabel('On', {exact: true}).isChecked()) && !(await page.getByLabel('Off', {exact: true}).isChecked()));
            await shot(page, 'settings-disconnected');
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('Connect opens the Microsoft sign-in, and the settings show the connection when it completes', async () => {
        const {context, page, errors} = await openHost(userToken(), 'settings');
        try {
            await page.getByTestId('msteams-disconnected').waitFor();
            const authorize = context.waitForEvent('request', (r) => /\/oauth2\/v2\.0\/authorize\?/.test(r.url()));
            const [popup] = await Promise.all([context.waitForEvent('page'), page.getByRole('button', {name: 'Connect account'}).click()]);
            const signInRequest = await authorize;
            assert.equal(signInRequest.redirectedFrom()?.url(), `${pluginBase}/connect`, 'the new tab opens the plugin\'s connect route, which redirects to the sign-in');
            await popup.waitForURL(/\/oauth2\/v2\.0\/authorize\?/);
            const signIn = new URL(signInRequest.url());
            assert.equal(signIn.searchParams.get('response_type'), 'code');
            assert.equal(signIn.searchParams.get('redirect_uri'), `${pluginBase}/oauth-redirect`);
            assert.ok(signIn.searchParams.get('client_id'), 'the sign-in names the app');
            assert.ok(signIn.searchParams.get('state'), 'the sign-in carries a state');
            await shot(popup, 'signin');
            assert.match(await page.getByRole('status').textContent(), /new tab/);

            // Sign in as the Teams account with the user's email (graphsim's account picker).
            await popup.getByLabel(user.email, {exact: false}).check();
            await popup.getByRole('button', {name: 'Sign in'}).click();
            await popup.waitForURL((u) => u.href.startsWith(`${pluginBase}/oauth-redirect`));
            const outcome = popup.locator('h1');
            await outcome.waitFor();
            await shot(popup, 'signin-done');
            assert.equal(await outcome.getAttribute('class'), 'ok', `the sign-in ended with: ${await popup.locator('body').innerText()}`);

            // The settings tab learns about it from the websocket event, without a reload.
            await page.getByTestId('msteams-connected').waitFor();
            await page.getByText(`Signed in as ${user.email}`, {exact: false}).waitFor();
            assert.equal((await me()).connected, true);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('a connected user sees their Teams account and can change notifications on the server', async () => {
        const {context, page, errors} = await openHost(userToken(), 'settings');
        try {
            await page.getByTestId('msteams-connected').waitFor();
            await page.getByText(`Signed in as ${user.email}`, {exact: false}).waitFor();
            await page.getByText('Connected since', {exact: false}).waitFor();
            await shot(page, 'settings-connected');

            await page.getByLabel('Off', {exact: true}).check();
            await page.getByText('Teams chat notifications are off.').waitFor();
            assert.equal(await notificationsPreference(), 'off');
            assert.equal((await me()).notifications, false);

            await page.getByLabel('On', {exact: true}).check();
            await page.getByText('Teams chat notifications are on.').waitFor();
            assert.equal(await notificationsPreference(), 'on');
            assert.equal((await me()).notifications, true);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('a notifications change made elsewhere shows up live', async () => {
        const {context, page} = await openHost(userToken(), 'settings');
        try {
            await page.getByTestId('msteams-connected').waitFor();
            const before = await page.getByLabel('On', {exact: true}).isChecked();
            const value = before ? 'off' : 'on';
            await rest(userToken(), 'PUT', `/api/v4/users/${user.id}/preferences`, [{user_id: user.id, category: `pp_${pluginId}`, name: 'notifications', value}]);
            await page.waitForFunction((v) => document.querySelector(`input[name="msteams-notifications"][value="${v}"]`)?.checked, value);
            assert.equal((await me()).notifications, value === 'on');
        } finally {
            await context.close();
        }
    });

    test('Disconnect asks first, then disconnects on the server', async () => {
        const {context, page, errors} = await openHost(userToken(), 'settings');
        try {
            await page.getByTestId('msteams-connected').waitFor();
            await page.getByRole('button', {name: 'Disconnect'}).click();
            await shot(page, 'settings-disconnect-confirm');
            assert.equal((await me()).connected, true, 'nothing happens before confirming');
            await page.getByRole('button', {name: 'Yes, disconnect'}).click();
            await page.getByTestId('msteams-disconnected').waitFor();
            assert.equal((await me()).connected, false);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });
});

describe('System Console', () => {
    test('the status panel shows the server\'s numbers and the report downloads', async () => {
        const stats = await rest(adminToken(), 'GET', `/plugins/${pluginId}/api/v1/admin/stats`);
        const {context, page, errors} = await openHost(adminToken(), 'admin');
        try {
            await page.getByTestId('msteams-stat-connected').waitFor();
            assert.equal(await page.getByTestId('msteams-stat-connected').textContent(), `${stats.connected} of ${stats.seats_allowed}connected users`);
            assert.equal(await page.getByTestId('msteams-stat-available').textContent(), `${stats.seats_available}seats available`);
            await shot(page, 'admin-console');

            const link = page.getByRole('link', {name: 'Download connected users (CSV)'});
            assert.equal(await link.getAttribute('href'), `${pluginBase}/api/v1/admin/connected-users.csv`);
            const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
            const csv = fs.readFileSync(await download.path(), 'utf8');
            assert.match(csv, /^First Name,Last Name,Email,Username,Mattermost User ID,Teams User ID,Teams Email,Connected At/);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('a good whitelist CSV replaces the whitelist', async () => {
        const {context, page, errors} = await openHost(adminToken(), 'admin');
        try {
            await page.getByLabel('Whitelist CSV file').setInputFiles({name: 'whitelist.csv', mimeType: 'text/csv', buffer: Buffer.from(`email\n${user.email}\n`)});
            await page.getByTestId('msteams-whitelist').getByRole('button', {name: 'Upload and replace'}).click();
            await page.getByText('The whitelist now holds 1 users.').waitFor();
            await shot(page, 'admin-whitelist-ok');

            const link = page.getByRole('link', {name: 'Download current whitelist'});
            const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
            assert.equal(fs.readFileSync(await download.path(), 'utf8'), `email\n${user.email}\n`);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('Microsoft account links upload, list their errors and download', async () => {
        const {context, page, errors} = await openHost(adminToken(), 'admin');
        try {
            const links = page.getByTestId('msteams-account-links');
            const bad = `email,microsoft_account\n${user.email},not an account\n`;
            await page.getByLabel('Account links CSV file').setInputFiles({name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad)});
            await links.getByRole('button', {name: 'Upload and replace'}).click();
            const list = page.getByTestId('msteams-account-links-errors');
            await list.waitFor();
            assert.match((await list.locator('li').allTextContents())[0], /^Line 2: The Microsoft account must be an object ID/);

            const good = `email,microsoft_account\n${user.email},Someone.Else@contoso.example\n`;
            await page.getByLabel('Account links CSV file').setInputFiles({name: 'links.csv', mimeType: 'text/csv', buffer: Buffer.from(good)});
            await links.getByRole('button', {name: 'Upload and replace'}).click();
            await page.getByText('1 users now have a Microsoft account link.').waitFor();
            await shot(page, 'admin-account-links-ok');
            const [download] = await Promise.all([page.waitForEvent('download'), links.getByRole('link', {name: 'Download current account links'}).click()]);
            assert.equal(fs.readFileSync(await download.path(), 'utf8'), `email,microsoft_account\n${user.email},someone.else@contoso.example\n`);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });

    test('a bad whitelist CSV lists each wrong line and changes nothing', async () => {
        const before = await rest(adminToken(), 'GET', `/plugins/${pluginId}/api/v1/admin/whitelist.csv`);
        const {context, page, errors} = await openHost(adminToken(), 'admin');
        try {
            const bad = `email\nnot-an-address\nnobody@nowhere.invalid\n${user.email}\n`;
            await page.getByLabel('Whitelist CSV file').setInputFiles({name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad)});
            await page.getByTestId('msteams-whitelist').getByRole('button', {name: 'Upload and replace'}).click();
            const list = page.getByTestId('msteams-whitelist-errors');
            await list.waitFor();
            const items = await list.locator('li').allTextContents();
            assert.equal(items.length, 2);
            assert.match(items[0], /^Line 2: .*not-an-address/);
            assert.match(items[1], /^Line 3: .*nobody@nowhere\.invalid/);
            await shot(page, 'admin-whitelist-errors');
            assert.equal(await rest(adminToken(), 'GET', `/plugins/${pluginId}/api/v1/admin/whitelist.csv`), before);
            assert.deepEqual(errors, []);
        } finally {
            await context.close();
        }
    });
});
