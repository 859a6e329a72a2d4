// "Mute this Teams chat" in the ... menu of the bot's DMs: the DM carries its Teams chat id (post prop
// msteams_chat_id, set by the server's delivery), and the server checks the user is in that chat before muting.
import type {Client} from './client';
import {ApiError} from './client';
import MuteNotice, {showNotice} from './components/mute_notice';
import {t} from './i18n';

export const chatIdProp = 'msteams_chat_id';

type PostsState = {entities?: {posts?: {posts?: Record<string, {props?: Record<string, unknown>} | undefined>}}};

export type MuteRegistry = {
    registerPostDropdownMenuAction?: (text: string, action: (postId: string) => void, filter: (postId: string) => boolean) => void;
    registerRootComponent?: (component: unknown) => void;
};

// chatIdOf returns the Teams chat of a forwarded message, '' for any other post.
export function chatIdOf(state: PostsState | undefined, postId: string): string {
    const props = state?.entities?.posts?.posts?.[postId]?.props;
    const id = props?.[chatIdProp];
    return props?.from_bot === 'true' && typeof id === 'string' ? id : '';
}

// muteFromPost mutes the post's chat and tells the user how it went.
export async function muteFromPost(client: Client, chatId: string) {
    try {
        const chat = await client.muteChat(chatId);
        showNotice(t('mute.muted', {title: chat.title}));
    } catch (err) {
        const message = err instanceof ApiError && err.message ? err.message : t('error.unreachable');
        showNotice(t('mute.failed', {message}), true);
    }
}

export function registerMute(registry: MuteRegistry, getState: () => unknown, client: Client) {
    registry.registerRootComponent?.(MuteNotice);
    registry.registerPostDropdownMenuAction?.(
        t('mute.menuItem'),
        (postId) => {
            const chatId = chatIdOf(getState() as PostsState, postId);
            if (chatId) {
                muteFromPost(client, chatId);
            }
        },
        (postId) => chatIdOf(getState() as PostsState, postId) !== '',
    );
}
