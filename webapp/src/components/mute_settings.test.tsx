import {cleanup, fireEvent, screen, waitFor} from '@testing-library/react';
import React from 'react';
import type {Store} from 'redux';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {meLoaded} from '../store';
import {newStore, pluginPath, renderWith, startServer, type TestServer} from '../test_utils';

import MuteSettings from './mute_settings';

const launch = {chat_id: '19:launch@thread.v2', title: 'Launch plan', muted_at: '2026-03-01T10:00:00Z'};
const bob = {chat_id: '19:ada_bob@unq.gbl.spaces', title: 'Bob Brown', muted_at: '2026-03-02T10:00:00Z'};

let server: TestServer;
let store: Store;
let mode: string;

beforeEach(async () => {
    mode = 'all';
    server = await startServer({
        [`GET ${pluginPath('/api/v1/me/muted-chats')}`]: () => ({json: {chats: [launch, bob]}}),
        [`GET ${pluginPath('/api/v1/me/message-mode')}`]: () => ({json: {mode}}),
        [`DELETE ${pluginPath('/api/v1/me/muted-chats/' + encodeURIComponent(launch.chat_id))}`]: () => ({json: {unmuted: true}}),
        [`PUT ${pluginPath('/api/v1/me/message-mode')}`]: (req) => {
            mode = JSON.parse(req.body).mode;
            return {json: {mode}};
        },
    });
    store = newStore(server.url);
    store.dispatch(meLoaded({connected: true, teams_email: 'ada@contoso.com', connected_at: null, notifications: true}));
});

afterEach(async () => {
    cleanup();
    await server.close();
});

describe('MuteSettings', () => {
    it('lists the muted chats and unmutes one', async () => {
        renderWith(store, <MuteSettings/>);
        const items = await screen.findAllByTestId('msteams-muted-chat');
        expect(items.map((i) => i.querySelector('span')?.textContent)).toEqual(['Launch plan', 'Bob Brown']);

        fireEvent.click(screen.getByRole('button', {name: 'Unmute Launch plan'}));
        await waitFor(() => expect(screen.getAllByTestId('msteams-muted-chat')).toHaveLength(1));
        expect(screen.getByRole('status').textContent).toMatch(/Launch plan is unmuted/);
        const del = server.requests.find((r) => r.method === 'DELETE');
        expect(del?.path).toBe(pluginPath('/api/v1/me/muted-chats/19%3Alaunch%40thread.v2'));
        expect(del?.headers['x-requested-with']).toBe('XMLHttpRequest');
    });

    it('says how to mute when nothing is muted', async () => {
        server.routes[`GET ${pluginPath('/api/v1/me/muted-chats')}`] = () => ({json: {chats: []}});
        renderWith(store, <MuteSettings/>);
        expect((await screen.findByTestId('msteams-muted-chats')).textContent).toMatch(/Mute this Teams chat/);
    });

    it('changes the mode and keeps the saved one when the server refuses', async () => {
        renderWith(store, <MuteSettings/>);
        const mentions = await screen.findByLabelText(/only messages that mention me/) as HTMLInputElement;
        expect((screen.getByLabelText('Every message') as HTMLInputElement).checked).toBe(true);
        fireEvent.click(mentions);
        await screen.findByText(/only messages that mention you will be forwarded/);
        expect(mode).toBe('mentions');
        expect(mentions.checked).toBe(true);

        server.routes[`PUT ${pluginPath('/api/v1/me/message-mode')}`] = () => ({status: 409, json: {error: 'Your account is not connected to Microsoft Teams. Run `/msteams connect` first.'}});
        fireEvent.click(screen.getByLabelText('Every message'));
        expect((await screen.findByRole('alert')).textContent).toMatch(/not connected/);
        expect(mentions.checked).toBe(true);
    });

    it('offers to try again when the list cannot be loaded', async () => {
        server.routes[`GET ${pluginPath('/api/v1/me/muted-chats')}`] = () => ({status: 500, json: {error: 'x'}});
        renderWith(store, <MuteSettings/>);
        await screen.findByTestId('msteams-mute-load-error');
        server.routes[`GET ${pluginPath('/api/v1/me/muted-chats')}`] = () => ({json: {chats: [bob]}});
        fireEvent.click(screen.getByRole('button', {name: 'Try again'}));
        await screen.findByText('Bob Brown');
    });
});
