import {describe, expect, it, vi} from 'vitest';

import {newStore, pluginPath, startServer} from './test_utils';

describe('plugin registration', () => {
    it('registers the settings sections, the System Console settings, the connection event and the mute menu item', async () => {
        const registered: Record<string, unknown[]> = {};
        const record = (name: string) => (...args: unknown[]) => {
            registered[name] = [...(registered[name] ?? []), args];
        };
        const registry = {
            registerReducer: record('reducer'),
            registerUserSettings: record('userSettings'),
            registerAdminConsoleCustomSetting: record('adminSetting'),
            registerWebSocketEventHandler: record('ws'),
            registerReconnectHandler: record('reconnect'),
            registerPostDropdownMenuAction: record('postMenu'),
            registerRootComponent: record('root'),
        };
        let plugin: {initialize: (r: unknown, s: unknown) => void} | undefined;
        (window as any).registerPlugin = (id: string, p: typeof plugin) => {
            expect(id).toBe('com.mattermost.msteams-sync');
            plugin = p;
        };
        await import('./index');
        const server = await startServer({[`GET ${pluginPath('/api/v1/me')}`]: () => ({json: {connected: true, teams_email: 'a@b.c', connected_at: null, notifications: true}})});
        const store = newStore(server.url);
        plugin!.initialize(registry, store);

        const [[settings]] = registered.userSettings as [[{id: string; uiName: string; sections: Array<{title: string}>}]];
        expect(settings.id).toBe('com.mattermost.msteams-sync');
        expect(settings.uiName).toBe('MS Teams');
        expect(settings.sections.map((s) => s.title)).toEqual(['Microsoft Teams', 'Muted chats and mentions', 'Teams channels']);
        expect((registered.postMenu as unknown[][]).map((a) => a[0])).toEqual(['Mute this Teams chat']);
        expect(registered.root).toHaveLength(1);
        expect((registered.adminSetting as unknown[][]).map((a) => a[0])).toEqual(['ConnectedUsersWhitelist', 'ConnectedUsersReportDownload', 'MicrosoftAccountLinks']);

        const [[event, handler]] = registered.ws as [[string, (m: unknown) => void]];
        expect(event).toBe('custom_com.mattermost.msteams-sync_connection_changed');
        handler({data: {connected: true}});
        expect((store.getState() as any)['plugins-com.mattermost.msteams-sync'].connection.connected).toBe(true);
        await vi.waitFor(() => expect((store.getState() as any)['plugins-com.mattermost.msteams-sync'].connection.teamsEmail).toBe('a@b.c'));
        await server.close();
    });
});
