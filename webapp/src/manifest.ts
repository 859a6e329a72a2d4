// The plugin's identity, shared by the webapp and the server (plugin.json).
export const pluginId = 'com.mattermost.msteams-sync';

// Mattermost stores plugin reducers under this key of the global state.
export const pluginStateKey = `plugins-${pluginId}`;

// The notifications preference the slash command, the server and this webapp share.
export const preferenceCategory = `pp_${pluginId}`;
export const preferenceNotifications = 'notifications';

// Websocket event the server publishes to a user when their connection changes (custom_<id>_<event>).
export const connectionChangedEvent = `custom_${pluginId}_connection_changed`;
