// Webapp half of the MS Teams plugin. The user settings and admin console pieces come with their own issue.
const pluginId = 'com.mattermost.msteams-sync';

class Plugin {
    // eslint-disable-next-line @typescript-eslint/no-unused-vars
    initialize(_registry: unknown, _store: unknown) {
        // Nothing is registered yet.
    }
}

(window as any).registerPlugin(pluginId, new Plugin());
