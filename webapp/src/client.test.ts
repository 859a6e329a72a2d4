import {afterEach, describe, expect, it} from 'vitest';

import {pluginURL, siteURL} from './client';

afterEach(() => {
    delete (window as {basename?: string}).basename;
});

describe('siteURL', () => {
    it('uses the page origin and Mattermost\'s basename so a subpath install works', () => {
        (window as {basename?: string}).basename = '/chat/';
        expect(siteURL({entities: {general: {config: {SiteURL: 'https://elsewhere.example.com'}}}})).toBe(`${window.location.origin}/chat`);
        expect(pluginURL(undefined, '/connect')).toBe(`${window.location.origin}/chat/plugins/com.mattermost.msteams-sync/connect`);
    });

    it('falls back to the configured SiteURL without a trailing slash', () => {
        expect(siteURL({entities: {general: {config: {SiteURL: 'https://mm.example.com/team/'}}}})).toBe('https://mm.example.com/team');
    });

    it('falls back to the page origin when nothing is configured', () => {
        expect(siteURL({})).toBe(window.location.origin);
    });
});
