import {act, cleanup, fireEvent, screen, waitFor} from '@testing-library/react';
import React from 'react';
import type {Store} from 'redux';
import {afterEach, beforeEach, describe, expect, it, vi} from 'vitest';

import {connectionChanged, preferenceSaved} from '../store';
import {newStore, pluginPath, renderWith, startServer, type TestServer} from '../test_utils';

import ConnectionSettings from './connection_settings';

const connectedMe = {connected: true, teams_email: 'alice@contoso.com', connected_at: '2026-03-01T10:00:00Z', notifications: true};
const disconnectedMe = {connected: false, teams_email: '', connected_at: null, notifications: false};

let server: TestServer;
let store: Store;
let me: typeof connectedMe | typeof disconnectedMe;

beforeEach(async () => {
    me = disconnectedMe;
    server = await startServer({
        [`GET ${pluginPath('/api/v1/me')}`]: () => ({json: me}),
    });
    store = newStore(server.url);
});

afterEach(async () => {
    cleanup();
    vi.restoreAllMocks();
    await server.close();
});

const meRequests = () => server.requests.filter((r) => r.path === pluginPath('/api/v1/me'));

describe('ConnectionSettings', () => {
    it('says it is checking until the server answers', async () => {
        let release!: () => void;
        const held = new Promise<void>((r) => {
            release = r;
        });
        server.routes[`GET ${pluginPath('/api/v1/me')}`] = () => ({json: me, hold: held});
        renderWith(store, <ConnectionSettings/>);
        expect(screen.getByTestId('msteams-loading').textContent).toMatch(/Checking/);
        release();
        await screen.findByTestId('msteams-disconnected');
    });

    it('offers Connect and keeps notifications off and disabled when disconnected', async () => {
        renderWith(store, <ConnectionSettings/>);
        await screen.findByTestId('msteams-disconnected');
        expect(screen.getByRole('button', {name: 'Connect account'})).toBeTruthy();
        expect(screen.queryByRole('button', {name: 'Disconnect'})).toBeNull();
        const fieldset = screen.getByTestId('msteams-notifications') as HTMLFieldSetElement;
        expect(fieldset.disabled).toBe(true);
        expect((screen.getByLabelText('Off') as HTMLInputElement).checked).toBe(false);
        expect((screen.getByLabelText('On') as HTMLInputElement).checked).toBe(false);
        expect(fieldset.textContent).toMatch(/Connect your account/);
        expect(meRequests()[0].headers['x-requested-with']).toBe('XMLHttpRequest');
    });

    it('shows the Teams account and the notifications choice when connected', async () => {
        me = connectedMe;
        renderWith(store, <ConnectionSettings/>);
        await screen.findByTestId('msteams-connected');
        expect(screen.getByText(/Signed in as alice@contoso.com\./)).toBeTruthy();
        expect(screen.getByText(/Connected since .*2026/)).toBeTruthy();
        expect((screen.getByLabelText('On') as HTMLInputElement).checked).toBe(true);
        expect((screen.getByTestId('msteams-notifications') as HTMLFieldSetElement).disabled).toBe(false);
    });

    it('opens the sign-in URL of this site in a new tab on Connect', async () => {
        const open = vi.spyOn(window, 'open').mockReturnValue({} as Window);
        renderWith(store, <ConnectionSettings/>);
        fireEvent.click(await screen.findByRole('button', {name: 'Connect account'}));
        expect(open).toHaveBeenCalledWith(`${server.url}${pluginPath('/connect')}`, '_blank');
        expect(screen.getByRole('status').textContent).toMatch(/new tab/);
    });

    it('explains a blocked pop-up', async () => {
        vi.spyOn(window, 'open').mockReturnValue(null);
        renderWith(store, <ConnectionSettings/>);
        fireEvent.click(await screen.findByRole('button', {name: 'Connect account'}));
        expect(screen.getByRole('alert').textContent).toMatch(/blocked/);
    });

    it('turns notifications off through the server and records the preference in the store', async () => {
        me = connectedMe;
        server.routes[`POST ${pluginPath('/api/v1/me/notifications')}`] = () => ({json: {notifications: false}});
        renderWith(store, <ConnectionSettings/>);
        await screen.findByTestId('msteams-connected');
        fireEvent.click(screen.getByLabelText('Off'));
        await screen.findByText('Teams chat notifications are off.');
        const post = server.requests.find((r) => r.method === 'POST');
        expect(JSON.parse(post!.body)).toEqual({enabled: false});
        expect(post!.headers['content-type']).toBe('application/json');
        expect((screen.getByLabelText('Off') as HTMLInputElement).checked).toBe(true);
        const prefs = (store.getState() as any).entities.preferences.myPreferences;
        expect(prefs['pp_com.mattermost.msteams-sync--notifications'].value).toBe('off');
    });

    it('keeps the old choice and shows the server sentence when saving fails', async () => {
        me = connectedMe;
        server.routes[`POST ${pluginPath('/api/v1/me/notifications')}`] = () => ({status: 409, json: {error: 'Your account is not connected to Microsoft Teams.'}});
        renderWith(store, <ConnectionSettings/>);
        await screen.findByTestId('msteams-connected');
        fireEvent.click(screen.getByLabelText('Off'));
        expect((await screen.findByRole('alert')).textContent).toBe('Your account is not connected to Microsoft Teams.');
        expect((screen.getByLabelText('On') as HTMLInputElement).checked).toBe(true);
    });

    it('follows a preference changed elsewhere (slash command, other device)', async () => {
        me = connectedMe;
        renderWith(store, <ConnectionSettings/>);
        await screen.findByTestId('msteams-connected');
        act(() => {
            store.dispatch(preferenceSaved('user1', false));
        });
        expect((screen.getByLabelText('Off') as HTMLInputElement).checked).toBe(true);
    });

    it('asks for confirmation, then disconnects', async () => {
        me = connectedMe;
        server.routes[`POST ${pluginPath('/api/v1/me/disconnect')}`] = () => {
            me = disconnectedMe;
            return {json: {connected: false}};
        };
        renderWith(store, <ConnectionSettings/>);
        fireEvent.click(await screen.findByRole('button', {name: 'Disconnect'}));
        expect(server.requests.some((r) => r.path.endsWith('/disconnect'))).toBe(false);
        fireEvent.click(screen.getByRole('button', {name: 'Cancel'}));
        fireEvent.click(screen.getByRole('button', {name: 'Disconnect'}));
        fireEvent.click(screen.getByRole('button', {name: 'Yes, disconnect'}));
        await screen.findByTestId('msteams-disconnected');
        expect(server.requests.filter((r) => r.path.endsWith('/disconnect'))).toHaveLength(1);
    });

    it('updates live when the connection changes in another tab', async () => {
        renderWith(store, <ConnectionSettings/>);
        await screen.findByTestId('msteams-disconnected');
        me = connectedMe;
        act(() => {
            store.dispatch(connectionChanged(true));
        });
        await screen.findByTestId('msteams-connected');
    });

    it('offers a retry when the connection cannot be checked', async () => {
        server.routes[`GET ${pluginPath('/api/v1/me')}`] = () => ({status: 500, json: {error: 'Something went wrong on the server.'}});
        renderWith(store, <ConnectionSettings/>);
        await screen.findByTestId('msteams-load-error');
        server.routes[`GET ${pluginPath('/api/v1/me')}`] = () => ({json: connectedMe});
        fireEvent.click(screen.getByRole('button', {name: 'Try again'}));
        await screen.findByTestId('msteams-connected');
        await waitFor(() => expect(meRequests()).toHaveLength(2));
    });
});
