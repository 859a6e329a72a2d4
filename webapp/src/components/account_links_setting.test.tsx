import {cleanup, fireEvent, screen} from '@testing-library/react';
import React from 'react';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {newStore, pluginPath, renderWith, startServer, type TestServer} from '../test_utils';

import AccountLinksSetting from './account_links_setting';

let server: TestServer;

beforeEach(async () => {
    server = await startServer({});
});

afterEach(async () => {
    cleanup();
    await server.close();
});

function chooseFile(content: string) {
    const input = screen.getByLabelText('Account links CSV file');
    fireEvent.change(input, {target: {files: [new File([content], 'links.csv', {type: 'text/csv'})]}});
}

const puts = () => server.requests.filter((r) => r.method === 'PUT' && r.path === pluginPath('/api/v1/admin/account-links'));

describe('AccountLinksSetting', () => {
    it('offers the current links for download and explains the file', () => {
        renderWith(newStore(server.url), <AccountLinksSetting id='MicrosoftAccountLinks'/>);
        const link = screen.getByRole('link', {name: 'Download current account links'}) as HTMLAnchorElement;
        expect(link.href).toBe(`${server.url}${pluginPath('/api/v1/admin/account-links.csv')}`);
        expect(screen.getByText(/header email,microsoft_account/).textContent).toMatch(/must still sign in/);
    });

    it('uploads the file and says how many users are linked', async () => {
        server.routes[`PUT ${pluginPath('/api/v1/admin/account-links')}`] = () => ({json: {count: 1}});
        renderWith(newStore(server.url), <AccountLinksSetting id='MicrosoftAccountLinks'/>);
        const csv = 'email,microsoft_account\nada@personal.example,ada.lovelace@contoso.com\n';
        chooseFile(csv);
        fireEvent.click(screen.getByRole('button', {name: 'Upload and replace'}));
        expect((await screen.findByRole('status')).textContent).toBe('1 users now have a Microsoft account link.');
        expect(puts()).toHaveLength(1);
        expect(puts()[0].body).toBe(csv);
        expect(puts()[0].headers['content-type']).toBe('text/csv');
    });

    it('lists the rejected lines', async () => {
        server.routes[`PUT ${pluginPath('/api/v1/admin/account-links')}`] = () => ({
            status: 400,
            json: {errors: [{line: 2, message: 'No Mattermost user has the email "x@example.com".'}]},
        });
        renderWith(newStore(server.url), <AccountLinksSetting id='MicrosoftAccountLinks'/>);
        chooseFile('email,microsoft_account\nx@example.com,x@contoso.com\n');
        fireEvent.click(screen.getByRole('button', {name: 'Upload and replace'}));
        const alert = await screen.findByTestId('msteams-account-links-errors');
        expect(alert.textContent).toMatch(/account links were not changed/);
        expect(alert.querySelector('li')?.textContent).toBe('Line 2: No Mattermost user has the email "x@example.com".');
    });
});
