// The plugin's "Teams channels" Settings section: which Teams channel messages reach the user besides those that
// mention them by name, the same choices as /msteams channels: mentions of a team, channel or tag they are in,
// and replies in threads they started or replied in. While the system admin has not turned Teams channel
// notifications on, it says so and offers nothing to choose.
import React, {useCallback, useEffect, useState} from 'react';
import {useSelector} from 'react-redux';

import {ApiError, type ChannelChoices} from '../client';
import {useClient} from '../hooks';
import {t, type MessageId} from '../i18n';
import {getConnection} from '../store';

import {box, errorText, heading, muted, successText, text} from './styles';

function errorMessage(err: unknown): string {
    if (err instanceof ApiError && err.message) {
        return err.message;
    }
    return t('error.unreachable');
}

type Choice = 'group_mentions' | 'thread_replies';

const saved: Record<Choice, {on: MessageId; off: MessageId}> = {
    group_mentions: {on: 'channels.groupMentionsOnSaved', off: 'channels.groupMentionsOffSaved'},
    thread_replies: {on: 'channels.threadRepliesOnSaved', off: 'channels.threadRepliesOffSaved'},
};

type Loaded = {status: 'loading'} | {status: 'error'} | {status: 'ready'; choices: ChannelChoices};

export default function ChannelSettings() {
    const client = useClient();
    const conn = useSelector(getConnection);
    const [state, setState] = useState<Loaded>({status: 'loading'});
    const [busy, setBusy] = useState(false);
    const [actionError, setActionError] = useState('');
    const [notice, setNotice] = useState('');

    const load = useCallback(async () => {
        try {
            setState({status: 'ready', choices: await client.getChannelChoices()});
        } catch {
            setState({status: 'error'});
        }
    }, [client]);

    // Reload when the connection changes: the choices go with it.
    useEffect(() => {
        load();
    }, [load, conn.connected]);

    if (state.status === 'loading') {
        return <p style={muted} data-testid='msteams-channels-loading'>{t('channels.loading')}</p>;
    }
    if (state.status === 'error') {
        return (
            <div style={box} data-testid='msteams-channels-load-error'>
                <p style={errorText}>{t('channels.loadFailed')}</p>
                <button className='btn btn-tertiary' onClick={() => load()}>{t('settings.retry')}</button>
            </div>
        );
    }
    if (!state.choices.enabled) {
        return (
            <div style={box} data-testid='msteams-channels-not-enabled'>
                <p style={{...muted, margin: 0}}>{t('channels.notEnabled')}</p>
            </div>
        );
    }

    const choose = async (choice: Choice, on: boolean) => {
        setBusy(true);
        setActionError('');
        setNotice('');
        const previous = state.choices;
        // The choice being saved shows at once; it falls back to the saved one when the server refuses it.
        setState({status: 'ready', choices: {...previous, [choice]: on}});
        try {
            const choices = await client.setChannelChoices({[choice]: on});
            setState({status: 'ready', choices});
            setNotice(t(on ? saved[choice].on : saved[choice].off));
        } catch (err) {
            setState({status: 'ready', choices: previous});
            setActionError(errorMessage(err));
        } finally {
            setBusy(false);
        }
    };

    const connected = conn.connected === true;
    const {choices} = state;
    return (
        <div data-testid='msteams-channel-settings'>
            <fieldset style={{...box, opacity: connected ? 1 : 0.6}} disabled={!connected || busy} data-testid='msteams-channel-choices'>
                <legend style={heading}>{t('channels.title')}</legend>
                {!connected && <p style={muted}>{t('channels.needConnection')}</p>}
                <p style={{...muted, margin: '4px 0 0'}}>{t('channels.intro')}</p>
                <label style={{...text, display: 'block', marginTop: 8}}>
                    <input
                        type='checkbox'
                        name='msteams-channel-group-mentions'
                        checked={choices.group_mentions}
                        onChange={(e) => choose('group_mentions', e.target.checked)}
                    />
                    {' '}{t('channels.groupMentions')}
                </label>
                <p style={{...muted, margin: '0 0 4px 20px', fontSize: 12}}>{t('channels.groupMentionsHelp')}</p>
                <label style={{...text, display: 'block'}}>
                    <input
                        type='checkbox'
                        name='msteams-channel-thread-replies'
                        checked={choices.thread_replies}
                        onChange={(e) => choose('thread_replies', e.target.checked)}
                    />
                    {' '}{t('channels.threadReplies')}
                </label>
                <p style={{...muted, marginTop: 8, marginBottom: 0}}>{t('channels.activeNote')}</p>
            </fieldset>

            {actionError && <p style={errorText} role='alert'>{actionError}</p>}
            {!actionError && notice && <p style={successText} role='status'>{notice}</p>}
        </div>
    );
}
