import {cleanup, fireEvent, screen} from '@testing-library/react';
import React from 'react';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {newStore, pluginPath, renderWith, startServer, type TestServer} from '../test_utils';

import WhitelistSetting from './whitelist_setting';

let server: TestServer;

beforeEach(async () => {
    server = await startServer({});
});

afterEach(async () => {
    cleanup();
    await server.close();
});

function chooseFile(content: string, name = 'whitelist.csv') {
    const input = screen.getByLabelText('Whitelist CSV file');
    fireEvent.change(input, {target: {files: [new File([content], name, {type: 'text/csv'})]}});
}

const puts = () => server.requests.filter((r) => r.method === 'PUT' && r.path === pluginPath('/api/v1/admin/whitelist'));

describe('WhitelistSetting', () => {
    it('offers the current whitelist for download from this site', () => {
        renderWith(newStore(server.url), <WhitelistSetting id='ConnectedUsersWhitelist'/>);
        const link = screen.getByRole('link', {name: 'Download current whitelist'}) as HTMLAnchorElement;
        expect(link.href).toBe(`${server.url}${pluginPath('/api/v1/admin/whitelist.csv')}`);
        expect((screen.getByRole('button', {name: 'Upload and replace'}) as HTMLButtonElement).disabled).toBe(true);
    });

    it('uploads the chosen file as CSV and reports how many users it holds', async () => {
        server.routes[`PUT ${pluginPath('/api/v1/admin/whitelist')}`] = () => ({json: {count: 2}});
        renderWith(newStore(server.url), <WhitelistSetting id='ConnectedUsersWhitelist'/>);
        chooseFile('email\nalice@example.com\nbob@example.com\n');
        fireEvent.click(screen.getByRole('button', {name: 'Upload and replace'}));
        expect((await screen.findByRole('status')).textContent).toBe('The whitelist now holds 2 users.');
        expect(puts()).toHaveLength(1);
        expect(puts()[0].body).toBe('email\nalice@example.com\nbob@example.com\n');
        expect(puts()[0].headers['content-type']).toBe('text/csv');
        expect(puts()[0].headers['x-requested-with']).toBe('XMLHttpRequest');
    });

    it('lists every rejected line', async () => {
        server.routes[`PUT ${pluginPath('/api/v1/admin/whitelist')}`] = () => ({
            status: 400,
            json: {errors: [{line: 2, message: '"nobody" is not an email address.'}, {line: 3, message: 'No Mattermost user has the email "x@example.com".'}]},
        });
        renderWith(newStore(server.url), <WhitelistSetting id='ConnectedUsersWhitelist'/>);
        chooseFile('email\nnobody\nx@example.com\n');
        fireEvent.click(screen.getByRole('button', {name: 'Upload and replace'}));
        const alert = await screen.findByTestId('msteams-whitelist-errors');
        expect(alert.textContent).toMatch(/was not changed.*2 problems/);
        const items = Array.from(alert.querySelectorAll('li')).map((li) => li.textContent);
        expect(items).toEqual(['Line 2: "nobody" is not an email address.', 'Line 3: No Mattermost user has the email "x@example.com".']);
    });

    it('cuts a long error list and says how many more', async () => {
        const errors = Array.from({length: 60}, (_, i) => ({line: i + 2, message: 'bad'}));
        server.routes[`PUT ${pluginPath('/api/v1/admin/whitelist')}`] = () => ({status: 400, json: {errors}});
        renderWith(newStore(server.url), <WhitelistSetting id='ConnectedUsersWhitelist'/>);
        chooseFile('email\n');
        fireEvent.click(screen.getByRole('button', {name: 'Upload and replace'}));
        const alert = await screen.findByTestId('msteams-whitelist-errors');
        expect(alert.querySelectorAll('li')).toHaveLength(50);
        expect(alert.textContent).toMatch(/and 10 more/);
    });

    it('shows the server sentence for other failures', async () => {
        server.routes[`PUT ${pluginPath('/api/v1/admin/whitelist')}`] = () => ({status: 413, json: {error: 'The whitelist file is larger than 5 MB.'}});
        renderWith(newStore(server.url), <WhitelistSetting id='ConnectedUsersWhitelist'/>);
        chooseFile('email\n');
        fireEvent.click(screen.getByRole('button', {name: 'Upload and replace'}));
        expect((await screen.findByRole('alert')).textContent).toBe('The whitelist file is larger than 5 MB.');
    });

    it('stays disabled while the System Console disables the setting', () => {
        renderWith(newStore(server.url), <WhitelistSetting id='ConnectedUsersWhitelist' disabled={true}/>);
        expect((screen.getByLabelText('Whitelist CSV file') as HTMLInputElement).disabled).toBe(true);
    });
});
