// A stand-in for the Mattermost web app, just enough to run a plugin bundle: React, ReactDOM, Redux and
// ReactRedux on window (as Mattermost exposes them), a Redux store with the entities a plugin reads, the plugin
// registry (recording what is registered and rendering it), and the Mattermost websocket feeding plugin handlers
// and preference updates. It talks to a real Mattermost server at its own origin with the session cookie.
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import {createRoot, type Root} from 'react-dom/client';
import * as ReactRedux from 'react-redux';
import * as Redux from 'redux';

type Pref = {user_id: string; category: string; name: string; value: string};
type AnyAction = {type: string; data?: unknown};

const w = window as any;
w.React = React;
w.ReactDOM = ReactDOM;
w.Redux = Redux;
w.ReactRedux = ReactRedux;
w.basename = '';

function preferences(state: {myPreferences: Record<string, Pref>} = {myPreferences: {}}, action: AnyAction) {
    if (action.type !== 'RECEIVED_PREFERENCES') {
        return state;
    }
    const next = {...state.myPreferences};
    for (const p of action.data as Pref[]) {
        next[`${p.category}--${p.name}`] = p;
    }
    return {myPreferences: next};
}

const entities = Redux.combineReducers({
    general: (s = {config: {SiteURL: window.location.origin}}) => s,
    users: (s = {currentUserId: ''}, a: AnyAction) => (a.type === 'RECEIVED_ME' ? {currentUserId: (a.data as {id: string}).id} : s),
    preferences,
    // Posts the test put in the store (RECEIVED_POST), as a post's ... menu would find them.
    posts: (s: {posts: Record<string, unknown>} = {posts: {}}, a: AnyAction) =>
        (a.type === 'RECEIVED_POST' ? {posts: {...s.posts, [(a.data as {id: string}).id]: a.data}} : s),
});
const pluginReducers: Record<string, Redux.Reducer> = {};
const rootReducer = () => Redux.combineReducers({entities, ...pluginReducers});
const store = Redux.createStore(rootReducer());

type Registered = {
    userSettings: Array<{id: string; uiName: string; sections: Array<{title: string; component: React.ComponentType}>}>;
    adminSettings: Array<{key: string; component: React.ComponentType<any>; options?: {showTitle?: boolean}}>;
    wsHandlers: Record<string, Array<(msg: unknown) => void>>;
    reconnectHandlers: Array<() => void>;
    postMenu: Array<{text: string; action: (postId: string) => void; filter?: (postId: string) => boolean}>;
    rootComponents: React.ComponentType[];
};
const registered: Registered = {userSettings: [], adminSettings: [], wsHandlers: {}, reconnectHandlers: [], postMenu: [], rootComponents: []};

function registryFor(pluginId: string) {
    return {
        registerReducer(reducer: Redux.Reducer) {
            pluginReducers[`plugins-${pluginId}`] = reducer;
            store.replaceReducer(rootReducer());
        },
        registerUserSettings(settings: Registered['userSettings'][number]) {
            registered.userSettings.push(settings);
        },
        registerAdminConsoleCustomSetting(key: string, component: React.ComponentType<any>, options?: {showTitle?: boolean}) {
            registered.adminSettings.push({key, component, options});
        },
        registerWebSocketEventHandler(event: string, handler: (msg: unknown) => void) {
            (registered.wsHandlers[event] ??= []).push(handler);
        },
        registerReconnectHandler(handler: () => void) {
            registered.reconnectHandlers.push(handler);
        },
        registerPostDropdownMenuAction(text: string, action: (postId: string) => void, filter?: (postId: string) => boolean) {
            registered.postMenu.push({text, action, filter});
        },
        registerRootComponent(component: React.ComponentType) {
            registered.rootComponents.push(component);
        },
    };
}

const plugins: Record<string, unknown> = {};
w.registerPlugin = (id: string, plugin: {initialize: (registry: unknown, store: unknown) => void}) => {
    plugins[id] = plugin;
    plugin.initialize(registryFor(id), store);
};

async function api(path: string) {
    const resp = await fetch(path, {credentials: 'include', headers: {'X-Requested-With': 'XMLHttpRequest'}});
    if (!resp.ok) {
        throw new Error(`${path}: ${resp.status}`);
    }
    return resp.json();
}

// The websocket, authenticated by the session cookie as in Mattermost's web app; it resolves on the server's
// hello, which it sends only to an authenticated connection.
let wsReady = false;
function openSocket(): Promise<void> {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${window.location.origin.replace(/^http/, 'ws')}/api/v4/websocket`);
        ws.onerror = () => reject(new Error('websocket failed'));
        ws.onclose = (e) => reject(new Error(`websocket closed: ${e.code} ${e.reason}`));
        ws.onmessage = (e) => {
            const msg = JSON.parse(e.data);
            if (msg.event === 'hello') {
                wsReady = true;
                resolve();
            }
            if (msg.event === 'preferences_changed') {
                store.dispatch({type: 'RECEIVED_PREFERENCES', data: JSON.parse(msg.data.preferences)});
            }
            for (const h of registered.wsHandlers[msg.event] ?? []) {
                h(msg);
            }
        };
    });
}

let root: Root | null = null;
function mount(node: React.ReactElement) {
    root ??= createRoot(document.getElementById('root')!);
    // Root components render on every screen, as in Mattermost.
    const roots = registered.rootComponents.map((C, i) => <C key={`root-${i}`}/>);
    root.render(<ReactRedux.Provider store={store}>{node}{roots}</ReactRedux.Provider>);
}

// show renders one screen the way Mattermost places the plugin's pieces.
function show(screen: 'settings' | 'admin') {
    if (screen === 'settings') {
        mount(
            <div className='host-modal'>
                {registered.userSettings.map((s) => (
                    <div key={s.id} data-testid={`user-settings-${s.id}`}>
                        <h2>{s.uiName} Settings</h2>
                        {s.sections.map((sec) => (
                            <section key={sec.title}>
                                <h3>{sec.title}</h3>
                                <sec.component/>
                            </section>
                        ))}
                    </div>
                ))}
            </div>,
        );
        return;
    }
    mount(
        <div className='host-console'>
            <h2>System Console: MS Teams</h2>
            {registered.adminSettings.map(({key, component: C, options}) => (
                <div key={key} className='host-setting' data-testid={`admin-setting-${key}`}>
                    {options?.showTitle && <label className='host-label'>{key}</label>}
                    <div className='host-control'><C id={key} label={key} disabled={false} value={null} onChange={() => {}}/></div>
                </div>
            ))}
        </div>,
    );
}

// loadPlugins does what Mattermost does at start-up: loads every enabled plugin's bundle from the server.
async function loadPlugins() {
    const me = await api('/api/v4/users/me');
    store.dispatch({type: 'RECEIVED_ME', data: me});
    store.dispatch({type: 'RECEIVED_PREFERENCES', data: await api('/api/v4/users/me/preferences')});
    await openSocket();
    const manifests: Array<{id: string; webapp?: {bundle_path?: string}}> = await api('/api/v4/plugins/webapp');
    for (const m of manifests) {
        if (!m.webapp?.bundle_path) {
            continue;
        }
        await new Promise<void>((resolve, reject) => {
            const s = document.createElement('script');
            // The server names the bundle /static/<id>/...; Mattermost's web app loads it from /static/plugins/<id>/....
            s.src = m.webapp!.bundle_path!.replace(/^\/static\//, '/static/plugins/');
            s.onload = () => resolve();
            s.onerror = () => reject(new Error(`bundle of ${m.id} failed to load`));
            document.head.appendChild(s);
        });
    }
    return manifests.map((m) => m.id);
}

w.__host = {store, registered, plugins, show, ready: loadPlugins(), isSocketReady: () => wsReady};
