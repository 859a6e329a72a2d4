// The plugin's second Settings section: the Teams chats the user muted, each with Unmute, and which messages are
// forwarded (every message, or in group and meeting chats only those that mention the user). Muting itself
// happens from a forwarded message (its ... menu, or /msteams mute in its thread), where the chat is known.
import React, {useCallback, useEffect, useState} from 'react';
import {useSelector} from 'react-redux';

import {ApiError, type MessageMode, type MutedChat} from '../client';
import {useClient} from '../hooks';
import {t} from '../i18n';
import {getConnection} from '../store';

import {box, errorText, heading, muted, row, successText, text} from './styles';

function errorMessage(err: unknown): string {
    if (err instanceof ApiError && err.message) {
        return err.message;
    }
    return t('error.unreachable');
}

function formatDate(iso: string): string {
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(undefined, {year: 'numeric', month: 'long', day: 'numeric'});
}

type Loaded = {status: 'loading'} | {status: 'error'} | {status: 'ready'; chats: MutedChat[]; mode: MessageMode};

export default function MuteSettings() {
    const client = useClient();
    const conn = useSelector(getConnection);
    const [state, setState] = useState<Loaded>({status: 'loading'});
    const [busy, setBusy] = useState(false);
    const [actionError, setActionError] = useState('');
    const [notice, setNotice] = useState('');

    const load = useCallback(async () => {
        try {
            const [chats, mode] = await Promise.all([client.getMutedChats(), client.getMessageMode()]);
            setState({status: 'ready', chats: chats.chats ?? [], mode: mode.mode});
        } catch {
            setState({status: 'error'});
        }
    }, [client]);

    // Reload when the connection changes: the mode goes with it.
    useEffect(() => {
        load();
    }, [load, conn.connected]);

    if (state.status === 'loading') {
        return <p style={muted} data-testid='msteams-mute-loading'>{t('mute.loading')}</p>;
    }
    if (state.status === 'error') {
        return (
            <div style={box} data-testid='msteams-mute-load-error'>
                <p style={errorText}>{t('mute.loadFailed')}</p>
                <button className='btn btn-tertiary' onClick={() => load()}>{t('settings.retry')}</button>
            </div>
        );
    }

    const unmute = async (chat: MutedChat) => {
        setBusy(true);
        setActionError('');
        setNotice('');
        try {
            await client.unmuteChat(chat.chat_id);
            setState({...state, chats: state.chats.filter((c) => c.chat_id !== chat.chat_id)});
            setNotice(t('mute.unmuted', {title: chat.title}));
        } catch (err) {
            setActionError(errorMessage(err));
        } finally {
            setBusy(false);
        }
    };

    const setMode = async (mode: MessageMode) => {
        if (mode === state.mode) {
            return;
        }
        setBusy(true);
        setActionError('');
        setNotice('');
        const previous = state.mode;
        setState({...state, mode});
        try {
            await client.setMessageMode(mode);
            setNotice(mode === 'mentions' ? t('mute.modeMentionsSaved') : t('mute.modeAllSaved'));
        } catch (err) {
            setState({...state, mode: previous});
            setActionError(errorMessage(err));
        } finally {
            setBusy(false);
        }
    };

    const connected = conn.connected === true;
    return (
        <div data-testid='msteams-mute-settings'>
            <div style={box} data-testid='msteams-muted-chats'>
                {state.chats.length === 0 ? (
                    <p style={muted}>{t('mute.none')}</p>
                ) : (
                    <>
                        <p style={muted}>{t('mute.listHelp')}</p>
                        <ul style={{listStyle: 'none', padding: 0, margin: 0}}>
                            {state.chats.map((chat) => (
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
                    <input type='radio' name='msteams-message-mode' value='all' checked={state.mode === 'all'} onChange={() => setMode('all')}/>
                    {' '}{t('mute.modeAll')}
                </label>
                <label style={{...text, display: 'block'}}>
                    <input type='radio' name='msteams-message-mode' value='mentions' checked={state.mode === 'mentions'} onChange={() => setMode('mentions')}/>
                    {' '}{t('mute.modeMentions')}
                </label>
            </fieldset>

            {actionError && <p style={errorText} role='alert'>{actionError}</p>}
            {!actionError && notice && <p style={successText} role='status'>{notice}</p>}
        </div>
    );
}
