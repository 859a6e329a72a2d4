import {cleanup, fireEvent, screen, waitFor} from '@testing-library/react';
import React from 'react';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {newStore, pluginPath, renderWith, startServer, type TestServer} from '../test_utils';

import ReportSetting from './report_setting';

const stats = {connected: 3, pending_invites: 1, whitelist_size: 7, seats_allowed: 10, seats_available: 6, invite_pool_size: 5, restricted: true};

let server: TestServer;

beforeEach(async () => {
    server = await startServer({[`GET ${pluginPath('/api/v1/admin/stats')}`]: () => ({json: stats})});
});

afterEach(async () => {
    cleanup();
    await server.close();
});

describe('ReportSetting', () => {
    it('links the connected-users CSV of this site', () => {
        renderWith(newStore(server.url), <ReportSetting id='ConnectedUsersReportDownload'/>);
        const link = screen.getByRole('link', {name: 'Download connected users (CSV)'}) as HTMLAnchorElement;
        expect(link.href).toBe(`${server.url}${pluginPath('/api/v1/admin/connected-users.csv')}`);
    });

    it('shows seats, invitations and the whitelist', async () => {
        renderWith(newStore(server.url), <ReportSetting id='ConnectedUsersReportDownload'/>);
        expect((await screen.findByTestId('msteams-stat-connected')).textContent).toBe('3 of 10connected users');
        expect(screen.getByTestId('msteams-stat-available').textContent).toBe('6seats available');
        expect(screen.getByTestId('msteams-stat-invites').textContent).toBe('1 of 5pending invitations');
        expect(screen.getByTestId('msteams-stat-whitelist').textContent).toBe('7users on the whitelist (enforced)');
    });

    it('reloads on Refresh and shows failures', async () => {
        renderWith(newStore(server.url), <ReportSetting id='ConnectedUsersReportDownload'/>);
        await screen.findByTestId('msteams-stat-connected');
        server.routes[`GET ${pluginPath('/api/v1/admin/stats')}`] = () => ({status: 403, json: {error: 'Only system administrators can do this.'}});
        fireEvent.click(screen.getByRole('button', {name: 'Refresh'}));
        expect((await screen.findByRole('alert')).textContent).toBe('The status could not be loaded: Only system administrators can do this.');
        await waitFor(() => expect(server.requests.filter((r) => r.path.endsWith('/stats'))).toHaveLength(2));
    });
});
