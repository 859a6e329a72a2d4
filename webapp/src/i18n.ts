// Looks up user-visible text in i18n/en.json. Mattermost's own react-intl instance is not part of the plugin
// API contract (window.ReactIntl is undocumented), so the plugin carries this small lookup instead; other
// languages can be added as i18n/<locale>.json with the same ids.
import en from '../i18n/en.json';

export type MessageId = keyof typeof en;

const messages: Record<string, string> = en;

// t returns the English text for id with {name} placeholders filled from values.
export function t(id: MessageId, values?: Record<string, string | number>): string {
    const text = messages[id] ?? id;
    if (!values) {
        return text;
    }
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in values ? String(values[name]) : whole));
}
