// Test support: a real HTTP server standing in for the plugin's routes, and a Redux store shaped like
// Mattermost's, so components run their real client code over real requests.
import http from 'node:http';
import type {AddressInfo} from 'node:net';

import {render} from '@testing-library/react';
import React from 'react';
import {Provider} from 'react-redux';
import {combineReducers, createStore, type Store} from 'redux';

import {pluginStateKey} from './manifest';
import {reducer, RECEIVED_PREFERENCES} from './store';

export type Recorded = {method: string; path: string; headers: http.IncomingHttpHeaders; body: string};
export type Reply = {status?: number; json?: unknown; hold?: Promise<void>};
export type Routes = Record<string, (req: Recorded) => Reply>;

export type TestServer = {url: string; requests: Recorded[]; routes: Routes; close: () => Promise<void>};

// startServer answers "METHOD /path" from routes (path without the query) and records every request.
export async function startServer(routes: Routes): Promise<TestServer> {
    const requests: Recorded[] = [];
    const server = http.createServer((req, res) => {
        let body = '';
        req.on('data', (c) => {
            body += c;
        });
        req.on('end', async () => {
            const path = (req.url ?? '').split('?')[0];
            const rec: Recorded = {method: req.method ?? '', path, headers: req.headers, body};
            requests.push(rec);
            const route = ts.routes[`${rec.method} ${path}`];
            const reply = route ? route(rec) : {status: 404, json: {error: 'not found'}};
            await reply.hold;
            res.writeHead(reply.status ?? 200, {'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*'});
            res.end(JSON.stringify(reply.json ?? {}));
        });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const {port} = server.address() as AddressInfo;
    const ts: TestServer = {
        url: `http://127.0.0.1:${port}`,
        requests,
        routes,
        close: () => new Promise((resolve) => server.close(() => resolve())),
    };
    return ts;
}

export const pluginPath = (p: string) => `/plugins/com.mattermost.msteams-sync${p}`;

type Prefs = Record<string, {category: string; name: string; value: string}>;

// newStore builds a store with the slices of Mattermost's state the plugin reads.
export function newStore(siteURL: string, userId = 'user1'): Store {
    const preferences = (state: {myPreferences: Prefs} = {myPreferences: {}}, action: {type: string; data?: Array<{category: string; name: string; value: string}>}) => {
        if (action.type !== RECEIVED_PREFERENCES || !action.data) {
            return state;
        }
        const next = {...state.myPreferences};
        for (const p of action.data) {
            next[`${p.category}--${p.name}`] = p;
        }
        return {myPreferences: next};
    };
    const entities = combineReducers({
        general: (s = {config: {SiteURL: siteURL}}) => s,
        users: (s = {currentUserId: userId}) => s,
        preferences,
    });
    return createStore(combineReducers({entities, [pluginStateKey]: reducer}));
}

export function renderWith(store: Store, ui: React.ReactElement) {
    return render(<Provider store={store}>{ui}</Provider>);
}
