// Talks to the plugin's HTTP routes with the logged-in user's Mattermost session: the session cookie, the CSRF
// token Mattermost expects on cookie-authenticated writes, and X-Requested-With as Mattermost's own client sends.
import {pluginId} from './manifest';

type SiteState = {entities?: {general?: {config?: {SiteURL?: string}}}};

// siteURL is where Mattermost is served, including any subpath (https://host/chat). The page's own origin plus
// window.basename wins because requests must stay same-origin for the session cookie; SiteURL is the fallback.
export function siteURL(state?: SiteState): string {
    const basename = (window as {basename?: string}).basename;
    if (typeof basename === 'string') {
        return window.location.origin + basename.replace(/\/+$/, '');
    }
    const configured = state?.entities?.general?.config?.SiteURL;
    if (configured) {
        return configured.replace(/\/+$/, '');
    }
    return window.location.origin;
}

// pluginURL is the absolute URL of a plugin route such as /api/v1/me.
export function pluginURL(state: SiteState | undefined, path: string): string {
    return `${siteURL(state)}/plugins/${pluginId}${path}`;
}

export type Me = {
    connected: boolean;
    teams_email: string;
    connected_at: string | null;
    notifications: boolean;
};

export type MutedChat = {chat_id: string; title: string; muted_at: string};

export type MessageMode = 'all' | 'mentions';

// ChannelChoices: whether the system admin turned Teams channel notifications on, and which channel messages
// the user gets besides mentions of them by name (the choices of /msteams channels).
export type ChannelChoices = {enabled: boolean; group_mentions: boolean; thread_replies: boolean};

export type LineError = {line: number; message: string};

export type Stats = {
    connected: number;
    pending_invites: number;
    whitelist_size: number;
    seats_allowed: number;
    seats_available: number;
    invite_pool_size: number;
    restricted: boolean;
};

// ApiError carries the server's sentence (the {"error": "..."} body) and, for a rejected whitelist, its lines.
export class ApiError extends Error {
    constructor(message: string, readonly status: number, readonly lineErrors: LineError[] = []) {
        super(message);
    }
}

function csrfToken(): string {
    const match = document.cookie.match(/(?:^|;\s*)MMCSRF=([^;]*)/);
    return match ? decodeURIComponent(match[1]) : '';
}

async function request<T>(url: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set('X-Requested-With', 'XMLHttpRequest');
    const csrf = csrfToken();
    if (csrf && init.method && init.method !== 'GET') {
        headers.set('X-CSRF-Token', csrf);
    }
    let resp: Response;
    try {
        resp = await fetch(url, {...init, headers, credentials: 'include'});
    } catch {
        throw new ApiError('', 0);
    }
    const text = await resp.text();
    let body: unknown = null;
    try {
        body = text ? JSON.parse(text) : null;
    } catch {
        body = null;
    }
    if (!resp.ok) {
        const b = (body ?? {}) as {error?: string; errors?: LineError[]};
        throw new ApiError(b.error ?? '', resp.status, Array.isArray(b.errors) ? b.errors : []);
    }
    return body as T;
}

function postJSON<T>(url: string, body: unknown): Promise<T> {
    return request<T>(url, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
}

function putJSON<T>(url: string, body: unknown): Promise<T> {
    return request<T>(url, {method: 'PUT', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)});
}

export type Client = ReturnType<typeof newClient>;

// newClient binds the routes to a site; getState gives the current Redux state for SiteURL.
export function newClient(getState: () => SiteState | undefined) {
    const url = (path: string) => pluginURL(getState(), path);
    return {
        connectURL: () => url('/connect'),
        whitelistDownloadURL: () => url('/api/v1/admin/whitelist.csv'),
        reportDownloadURL: () => url('/api/v1/admin/connected-users.csv'),
        accountLinksDownloadURL: () => url('/api/v1/admin/account-links.csv'),
        getMe: () => request<Me>(url('/api/v1/me')),
        setNotifications: (enabled: boolean) => postJSON<{notifications: boolean}>(url('/api/v1/me/notifications'), {enabled}),
        disconnect: () => postJSON<{connected: boolean}>(url('/api/v1/me/disconnect'), {}),
        getMutedChats: () => request<{chats: MutedChat[]}>(url('/api/v1/me/muted-chats')),
        // Teams chat ids hold ':' and '@': one path segment each, escaped.
        muteChat: (chatId: string) => request<MutedChat>(url(`/api/v1/me/muted-chats/${encodeURIComponent(chatId)}`), {method: 'PUT'}),
        unmuteChat: (chatId: string) =>
            request<{unmuted: boolean}>(url(`/api/v1/me/muted-chats/${encodeURIComponent(chatId)}`), {method: 'DELETE'}),
        getMessageMode: () => request<{mode: MessageMode}>(url('/api/v1/me/message-mode')),
        setMessageMode: (mode: MessageMode) => putJSON<{mode: MessageMode}>(url('/api/v1/me/message-mode'), {mode}),
        getChannelChoices: () => request<ChannelChoices>(url('/api/v1/me/channel-notifications')),
        // Either choice alone: the server keeps the one left out.
        setChannelChoices: (choices: Partial<Pick<ChannelChoices, 'group_mentions' | 'thread_replies'>>) =>
            putJSON<ChannelChoices>(url('/api/v1/me/channel-notifications'), choices),
        getStats: () => request<Stats>(url('/api/v1/admin/stats')),
        // The CSV goes as the request body (the server also takes a multipart "file" field); a text body is
        // read the same by every browser and needs no multipart boundary handling.
        uploadWhitelist: (csv: string) =>
            request<{count: number}>(url('/api/v1/admin/whitelist'), {method: 'PUT', headers: {'Content-Type': 'text/csv'}, body: csv}),
        uploadAccountLinks: (csv: string) =>
            request<{count: number}>(url('/api/v1/admin/account-links'), {method: 'PUT', headers: {'Content-Type': 'text/csv'}, body: csv}),
    };
}
