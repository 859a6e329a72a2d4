import {act, cleanup, fireEvent, screen, waitFor} from '@testing-library/react';
import React from 'react';
import type {Store} from 'redux';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {connectionChanged, meLoaded} from '../store';
import {newStore, pluginPath, renderWith, startServer, type TestServer} from '../test_utils';

import ChannelSettings from './channel_settings';

const route = pluginPath('/api/v1/me/channel-notifications');

let server: TestServer;
let store: Store;
let choices: {enabled: boolean; group_mentions: boolean; thread_replies: boolean};

beforeEach(async () => {
    choices = {enabled: true, group_mentions: false, thread_replies: true};
    server = await startServer({
        [`GET ${route}`]: () => ({json: choices}),
        [`PUT ${route}`]: (req) => {
            choices = {...choices, ...JSON.parse(req.body)};
            return {json: choices};
        },
    });
    store = newStore(server.url);
    store.dispatch(meLoaded({connected: true, teams_email: 'ada@contoso.com', connected_at: null, notifications: true}));
});

afterEach(async () => {
    cleanup();
    await server.close();
});

const groupMentions = () => screen.getByLabelText('Mentions of a team, channel or tag you are in') as HTMLInputElement;
const threadReplies = () => screen.getByLabelText('Replies in threads you started or replied in') as HTMLInputElement;

describe('ChannelSettings', () => {
    it('shows the saved choices and saves each one alone', async () => {
        renderWith(store, <ChannelSettings/>);
        await screen.findByTestId('msteams-channel-choices');
        expect(groupMentions().checked).toBe(false);
        expect(threadReplies().checked).toBe(true);

        fireEvent.click(groupMentions());
        expect((await screen.findByRole('status')).textContent).toBe('You will get mentions of a team, channel or tag you are in.');
        expect(groupMentions().checked).toBe(true);
        const puts = () => server.requests.filter((r) => r.method === 'PUT');
        expect(puts().map((r) => JSON.parse(r.body))).toEqual([{group_mentions: true}]);
        expect(puts()[0].headers['content-type']).toBe('application/json');
        expect(puts()[0].headers['x-requested-with']).toBe('XMLHttpRequest');

        fireEvent.click(threadReplies());
        await screen.findByText(/no longer get replies in threads/);
        expect(threadReplies().checked).toBe(false);
        expect(puts().map((r) => JSON.parse(r.body))).toEqual([{group_mentions: true}, {thread_replies: false}]);
        expect(choices).toEqual({enabled: true, group_mentions: true, thread_replies: false});
    });

    it('keeps the saved choice and shows the sentence when the server refuses', async () => {
        server.routes[`PUT ${route}`] = () => ({status: 409, json: {error: 'Your account is not connected to Microsoft Teams. Run `/msteams connect` first.'}});
        renderWith(store, <ChannelSettings/>);
        await screen.findByTestId('msteams-channel-choices');
        fireEvent.click(groupMentions());
        expect((await screen.findByRole('alert')).textContent).toMatch(/not connected to Microsoft Teams/);
        expect(groupMentions().checked).toBe(false);
        expect(screen.queryByRole('status')).toBeNull();
    });

    it('says the system admin has not turned channel notifications on, and offers no choice', async () => {
        choices.enabled = false;
        renderWith(store, <ChannelSettings/>);
        const notice = await screen.findByTestId('msteams-channels-not-enabled');
        expect(notice.textContent).toBe('Teams channel notifications are not turned on by your system admin, so messages from Teams channels do not reach you here.');
        expect(screen.queryAllByRole('checkbox')).toHaveLength(0);
    });

    it('asks to connect first, with the choices shown but not changeable, and reloads once connected', async () => {
        store.dispatch(connectionChanged(false));
        renderWith(store, <ChannelSettings/>);
        await screen.findByText('Connect your account to choose which Teams channel messages you get.');
        expect((screen.getByTestId('msteams-channel-choices') as HTMLFieldSetElement).disabled).toBe(true);
        const gets = () => server.requests.filter((r) => r.method === 'GET').length;
        const before = gets();

        choices.group_mentions = true;
        act(() => {
            store.dispatch(connectionChanged(true));
        });
        await waitFor(() => expect(groupMentions().checked).toBe(true));
        expect(gets()).toBe(before + 1);
        expect((screen.getByTestId('msteams-channel-choices') as HTMLFieldSetElement).disabled).toBe(false);
        expect(screen.queryByText(/Connect your account/)).toBeNull();
    });

    it('offers to try again when the choices cannot be loaded', async () => {
        server.routes[`GET ${route}`] = () => ({status: 500, json: {error: 'x'}});
        renderWith(store, <ChannelSettings/>);
        await screen.findByTestId('msteams-channels-load-error');
        server.routes[`GET ${route}`] = () => ({json: choices});
        fireEvent.click(screen.getByRole('button', {name: 'Try again'}));
        await screen.findByTestId('msteams-channel-choices');
        expect(threadReplies().checked).toBe(true);
    });
});
