// What the browser test files share: the Mattermost server the e2e suite started (E2E_MM_URL), headless
// Chromium, the test host page (test/host) opened at the server's origin and logged in with a session token,
// calls to the server outside the browser, and screenshots in test-artifacts/.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

import {chromium} from 'playwright-core';

export const webappDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = path.join(webappDir, 'test-artifacts');
export const pluginId = 'com.mattermost.msteams-sync';
export const MM = (process.env.E2E_MM_URL ?? '').replace(/\/+$/, '');
export const pluginBase = `${MM}/plugins/${pluginId}`;
const hostURL = `${MM}/__plugin_host__`;

// launchChromium starts Debian's chromium (or CHROMIUM_PATH) headless.
export function launchChromium() {
    return chromium.launch({
        executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
            // The host page is fulfilled by the test, not fetched from 127.0.0.1, so Chromium cannot tell it is a
            // loopback page and would block its websocket to the loopback server as a local-network request.
            '--disable-features=LocalNetworkAccessChecks'],
    });
}

// rest calls the Mattermost server directly, outside the browser, with a session token. It returns the parsed
// JSON body, or the text of one that is not JSON.
export async function rest(token, method, urlPath, body) {
    const resp = await fetch(`${MM}${urlPath}`, {
        method,
        headers: {Authorization: `Bearer ${token}`, ...(body === undefined ? {} : {'Content-Type': 'application/json'})},
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await resp.text();
    if (!resp.ok) {
        throw new Error(`${method} ${urlPath}: ${resp.status} ${text}`);
    }
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

export async function shot(page, name) {
    fs.mkdirSync(artifacts, {recursive: true});
    await page.screenshot({path: path.join(artifacts, `${name}.png`), fullPage: true});
}

// openHost opens the host page at the server's origin in a new browser context, logged in with token, and shows
// one screen ('settings' or 'admin'). contextOptions are the context's (its viewport, downloads...). It returns
// the context (to close), the page and the page errors seen so far and later.
export async function openHost(browser, token, screen, contextOptions) {
    const context = await browser.newContext(contextOptions);
    await context.addCookies([{name: 'MMAUTHTOKEN', value: token, url: MM, httpOnly: true}]);
    const html = fs.readFileSync(path.join(webappDir, 'test/host/index.html'), 'utf8')
        .replace('/*HOST*/', () => fs.readFileSync(path.join(webappDir, 'test/host/dist/host.js'), 'utf8').replace(/<\/script/g, '<\\/script'));
    await context.route(hostURL, (route) => route.fulfill({status: 200, contentType: 'text/html', body: html}));
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (err) => errors.push(err));
    await page.goto(hostURL);
    const loaded = await page.evaluate(() => Promise.race([
        window.__host.ready,
        new Promise((resolve, reject) => setTimeout(() => reject(new Error('the host page did not load the plugins within 30 s')), 30000)),
    ]));
    assert.ok(loaded.includes(pluginId), `the server lists the plugin's webapp bundle (got ${loaded.join(', ')})`);
    await page.evaluate((s) => window.__host.show(s), screen);
    return {context, page, errors};
}
