import {act, cleanup, render, screen} from '@testing-library/react';
import React from 'react';
import {afterEach, beforeEach, describe, expect, it} from 'vitest';

import {newClient} from './client';
import MuteNotice from './components/mute_notice';
import {chatIdOf, registerMute} from './mute';
import {pluginPath, startServer, type TestServer} from './test_utils';

const chatId = '19:abc@thread.v2';
const state = (props: Record<string, unknown>) => ({entities: {posts: {posts: {p1: {props}}}}});

let server: TestServer;

beforeEach(async () => {
    server = await startServer({
        [`PUT ${pluginPath('/api/v1/me/muted-chats/' + encodeURIComponent(chatId))}`]: () => ({json: {chat_id: chatId, title: 'Launch', muted_at: '2026-03-01T10:00:00Z'}}),
    });
});

afterEach(async () => {
    cleanup();
    await server.close();
});

describe('Mute this Teams chat', () => {
    it('is offered only on the bot DMs that carry a Teams chat', () => {
        expect(chatIdOf(state({msteams_chat_id: chatId, from_bot: 'true'}), 'p1')).toBe(chatId);
        expect(chatIdOf(state({msteams_chat_id: chatId}), 'p1')).toBe('');
        expect(chatIdOf(state({from_bot: 'true'}), 'p1')).toBe('');
        expect(chatIdOf(state({msteams_chat_id: chatId, from_bot: 'true'}), 'other')).toBe('');
        expect(chatIdOf(undefined, 'p1')).toBe('');
    });

    it('mutes the chat through the server and says so', async () => {
        let action!: (postId: string) => void;
        let filter!: (postId: string) => boolean;
        const getState = () => ({...state({msteams_chat_id: chatId, from_bot: 'true'}), entities: {...state({msteams_chat_id: chatId, from_bot: 'true'}).entities, general: {config: {SiteURL: server.url}}}});
        registerMute({registerPostDropdownMenuAction: (_text, a, f) => {
            action = a;
            filter = f;
        }}, getState, newClient(getState as never));
        render(<MuteNotice/>);

        expect(filter('p1')).toBe(true);
        expect(filter('p2')).toBe(false);
        act(() => action('p1'));
        const notice = await screen.findByTestId('msteams-mute-notice');
        expect(notice.textContent).toMatch(/Muted the Teams chat Launch/);
        expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`PUT ${pluginPath('/api/v1/me/muted-chats/' + encodeURIComponent(chatId))}`]);
    });

    it('shows the server refusal', async () => {
        server.routes[`PUT ${pluginPath('/api/v1/me/muted-chats/' + encodeURIComponent(chatId))}`] = () => ({status: 404, json: {error: 'You are not a member of that Teams chat, so there is nothing to mute.'}});
        let action!: (postId: string) => void;
        const getState = () => ({entities: {posts: {posts: {p1: {props: {msteams_chat_id: chatId, from_bot: 'true'}}}}, general: {config: {SiteURL: server.url}}}});
        registerMute({registerPostDropdownMenuAction: (_text, a) => {
            action = a;
        }}, getState, newClient(getState as never));
        render(<MuteNotice/>);
        act(() => action('p1'));
        const notice = await screen.findByRole('alert');
        expect(notice.textContent).toMatch(/not muted: You are not a member/);
    });
});
