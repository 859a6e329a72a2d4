// Webapp half of the MS Teams plugin: the user's Settings sections (connection and notifications, muted chats and
// mentions, Teams channels) and the System Console controls (whitelist, connected-users report, status).
// Registered through Mattermost's plugin registry.
import type {Store} from 'redux';

import {loadMe} from './actions';
import {newClient} from './client';
import AccountLinksSetting from './components/account_links_setting';
import ChannelSettings from './components/channel_settings';
import ConnectionSettings from './components/connection_settings';
import MuteSettings from './components/mute_settings';
import ReportSetting from './components/report_setting';
import WhitelistSetting from './components/whitelist_setting';
import {t} from './i18n';
import {registerMute, type MuteRegistry} from './mute';
import {connectionChanged, getConnection, reducer} from './store';
import {connectionChangedEvent, pluginId} from './manifest';

// Registry is the part of Mattermost's plugin registry this plugin uses; older servers may lack some methods.
export type Registry = {
    registerReducer?: (reducer: unknown) => void;
    registerUserSettings?: (settings: unknown) => void;
    registerAdminConsoleCustomSetting?: (key: string, component: unknown, options?: {showTitle?: boolean}) => void;
    registerWebSocketEventHandler?: (event: string, handler: (msg: {data?: Record<string, unknown>}) => void) => void;
    registerReconnectHandler?: (handler: () => void) => void;
} & MuteRegistry;

export class Plugin {
    initialize(registry: Registry, store: Store) {
        const client = newClient(() => store.getState());
        registry.registerReducer?.(reducer);

        registry.registerUserSettings?.({
            id: pluginId,
            uiName: t('plugin.name'),
            sections: [
                {title: t('settings.sectionTitle'), component: ConnectionSettings},
                {title: t('mute.sectionTitle'), component: MuteSettings},
                {title: t('channels.sectionTitle'), component: ChannelSettings},
            ],
        });
        registerMute(registry, () => store.getState(), client);

        registry.registerAdminConsoleCustomSetting?.('ConnectedUsersWhitelist', WhitelistSetting, {showTitle: true});
        registry.registerAdminConsoleCustomSetting?.('ConnectedUsersReportDownload', ReportSetting, {showTitle: true});
        registry.registerAdminConsoleCustomSetting?.('MicrosoftAccountLinks', AccountLinksSetting, {showTitle: true});

        registry.registerWebSocketEventHandler?.(connectionChangedEvent, (msg) => {
            if (typeof msg.data?.connected === 'boolean') {
                store.dispatch(connectionChanged(msg.data.connected));
            }
            // Fetch the details (Teams email, time) that the event does not carry.
            loadMe(store.dispatch, client);
        });

        // Events may have been missed while the socket was down; reload what is being shown.
        registry.registerReconnectHandler?.(() => {
            if (getConnection(store.getState() as never).status !== 'unknown') {
                loadMe(store.dispatch, client);
            }
        });
    }
}

declare global {
    interface Window {
        registerPlugin(id: string, plugin: Plugin): void;
    }
}

window.registerPlugin(pluginId, new Plugin());
