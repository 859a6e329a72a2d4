// The plugin's second Settings section: the Teams chats the user muted, each with Unmute, and which messages are
// forwarded (every message, or in group and meeting chats only those that mention the user). Muting itself
// happens from a forwarded message (its ... menu, or /msteams mute in its thread), where the chat is known.
import React, {useState} from 'react';
import {useSelector} from 'react-redux';

import {type MessageMode, type MutedChat} from '../client';
import {useClient, useLoaded} from '../hooks';
import {t} from '../i18n';
import {getConnection} from '../store';

import {LoadError, Loading, Outcome, errorMessage} from './section_state';
import {box, heading, muted, row, text} from './styles';

function formatDate(iso: string): string {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(undefined, {year: 'numeric', month: 'long', day: 'numeric'});
}

export default function MuteSettings() {
    const client = useClient();
    const conn = useSelector(getConnection);
    // Reload when the connection changes: the mode goes with it.
    const {state, setData, reload} = useLoaded(async () => {
        const [chats, mode] = await Promise.all([client.getMutedChats(), client.getMessageMode()]);
        return {chats: chats.chats ?? [], mode: mode.mode};
    }, [client, conn.connected]);
    const [busy, setBusy] = useState(false);
    const [actionError, setActionError] = useState('');
    const [notice, setNotice] = useState('');

    if (state.status === 'loading') {
        return <Loading testId='msteams-mute-loading' text={t('mute.loading')}/>;
    }
    if (state.status === 'error') {
        return <LoadError testId='msteams-mute-load-error' text={t('mute.loadFailed')} onRetry={reload}/>;
    }
    const loaded = state.data;

    const unmute = async (chat: MutedChat) => {
        setBusy(true);
        setActionError('');
        setNotice('');
        try {
            await client.unmuteChat(chat.chat_id);
            setData({...loaded, chats: loaded.chats.filter((c) => c.chat_id !== chat.chat_id)});
            setNotice(t('mute.unmuted', {title: chat.title}));
        } catch (err) {
            setActionError(errorMessage(err));
        } finally {
            setBusy(false);
        }
    };

    const setMode = async (mode: MessageMode) => {
        if (mode === loaded.mode) {
            return;
        }
        setBusy(true);
        setActionError('');
        setNotice('');
        const previous = loaded.mode;
        setData({...loaded, mode});
        try {
            await client.setMessageMode(mode);
            setNotice(mode === 'mentions' ? t('mute.modeMentionsSaved') : t('mute.modeAllSaved'));
        } catch (err) {
            setData({...loaded, mode: previous});
            setActionError(errorMessage(err));
        } finally {
            setBusy(false);
        }
    };

    const connected = conn.connected === true;
    return (
        <div data-testid='msteams-mute-settings'>
            <div style={box} data-testid='msteams-muted-chats'>
                {loaded.chats.length === 0 ? (
                    <p style={muted}>{t('mute.none')}</p>
                ) : (
                    <>
                        <p style={muted}>{t('mute.listHelp')}</p>
                        <ul style={{listStyle: 'none', padding: 0, margin: 0}}>
                            {loaded.chats.map((chat) => (
                                <li key={chat.chat_id} style={row} data-testid='msteams-muted-chat'>
                                    <span style={{...text, fontWeight: 600}}>{chat.title}</span>
                                    <span style={muted}>{t('mute.since', {date: formatDate(chat.muted_at)})}</span>
                                    <button
                                        className='btn btn-tertiary btn-sm'
                                        onClick={() => unmute(chat)}
                                        disabled={busy}
                                        aria-label={`${t('mute.unmute')} ${chat.title}`}
                                    >{t('mute.unmute')}</button>
                                </li>
                            ))}
                        </ul>
                    </>
                )}
            </div>

            <fieldset style={{...box, opacity: connected ? 1 : 0.6}} disabled={!connected || busy} data-testid='msteams-message-mode'>
                <legend style={heading}>{t('mute.modeTitle')}</legend>
                {!connected && <p style={muted}>{t('mute.modeNeedConnection')}</p>}
                <label style={{...text, display: 'block', marginTop: 8}}>
                    <input type='radio' name='msteams-message-mode' value='all' checked={loaded.mode === 'all'} onChange={() => setMode('all')}/>
                    {' '}{t('mute.modeAll')}
                </label>
                <label style={{...text, display: 'block'}}>
                    <input type='radio' name='msteams-message-mode' value='mentions' checked={loaded.mode === 'mentions'} onChange={() => setMode('mentions')}/>
                    {' '}{t('mute.modeMentions')}
                </label>
            </fieldset>

            <Outcome error={actionError} notice={notice}/>
        </div>
    );
}
