// The plugin's slice of the Mattermost Redux store: the current user's connection, loaded from /api/v1/me and
// kept current by the connection_changed websocket event. The notifications choice lives in Mattermost's own
// preferences, so a change made with the slash command shows up here through Mattermost's preference updates.
import type {Me} from './client';
import {pluginStateKey, preferenceCategory, preferenceNotifications} from './manifest';

export type Connection = {
    status: 'unknown' | 'loading' | 'loaded' | 'error';
    connected: boolean;
    teamsEmail: string;
    connectedAt: string | null;
    notifications: boolean;
};

export const initialConnection: Connection = {status: 'unknown', connected: false, teamsEmail: '', connectedAt: null, notifications: false};

const LOADING = `${pluginStateKey}/me_loading`;
const LOADED = `${pluginStateKey}/me_loaded`;
const FAILED = `${pluginStateKey}/me_failed`;
const CHANGED = `${pluginStateKey}/connection_changed`;
const NOTIFICATIONS = `${pluginStateKey}/notifications_saved`;

// Mattermost's action for preferences it receives; dispatching it keeps its store in step with what we saved.
export const RECEIVED_PREFERENCES = 'RECEIVED_PREFERENCES';

type Action =
    | {type: typeof LOADING}
    | {type: typeof LOADED; me: Me}
    | {type: typeof FAILED}
    | {type: typeof CHANGED; connected: boolean}
    | {type: typeof NOTIFICATIONS; enabled: boolean};

export const meLoading = () => ({type: LOADING});
export const meLoaded = (me: Me) => ({type: LOADED, me});
export const meFailed = () => ({type: FAILED});
export const connectionChanged = (connected: boolean) => ({type: CHANGED, connected});
export const notificationsSaved = (enabled: boolean) => ({type: NOTIFICATIONS, enabled});

export const preferenceSaved = (userId: string, enabled: boolean) => ({
    type: RECEIVED_PREFERENCES,
    data: [{user_id: userId, category: preferenceCategory, name: preferenceNotifications, value: enabled ? 'on' : 'off'}],
});

function connection(state: Connection = initialConnection, action: Action | {type: string}): Connection {
    const a = action as Action;
    switch (a.type) {
    case LOADING:
        return {...state, status: state.status === 'loaded' ? 'loaded' : 'loading'};
    case LOADED:
        return {
            status: 'loaded',
            connected: a.me.connected,
            teamsEmail: a.me.teams_email,
            connectedAt: a.me.connected_at,
            notifications: a.me.notifications,
        };
    case FAILED:
        return {...state, status: state.status === 'loaded' ? 'loaded' : 'error'};
    case CHANGED:
        if (a.connected === state.connected) {
            return state;
        }
        // The details (email, time) come with the reload that follows; until then show only the new state.
        return {...state, connected: a.connected, teamsEmail: a.connected ? state.teamsEmail : '', connectedAt: a.connected ? state.connectedAt : null};
    case NOTIFICATIONS:
        return {...state, notifications: a.enabled};
    default:
        return state;
    }
}

export function reducer(state: {connection: Connection} | undefined, action: {type: string}) {
    return {connection: connection(state?.connection, action)};
}

type GlobalState = {
    [key: string]: unknown;
    entities?: {
        users?: {currentUserId?: string};
        preferences?: {myPreferences?: Record<string, {value?: string} | undefined>};
    };
};

export function getConnection(state: GlobalState): Connection {
    const mine = state[pluginStateKey] as {connection?: Connection} | undefined;
    return mine?.connection ?? initialConnection;
}

export function getCurrentUserId(state: GlobalState): string {
    return state.entities?.users?.currentUserId ?? '';
}

// notificationsEnabled prefers Mattermost's preference (updated live from any client or the slash command)
// and falls back to what /api/v1/me said, which includes the server's default for users who never chose.
export function notificationsEnabled(state: GlobalState): boolean {
    const pref = state.entities?.preferences?.myPreferences?.[`${preferenceCategory}--${preferenceNotifications}`];
    if (pref?.value === 'on' || pref?.value === 'off') {
        return pref.value === 'on';
    }
    return getConnection(state).notifications;
}
