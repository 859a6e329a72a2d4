// The plugin's "Teams channels" Settings section: which Teams channel messages reach the user besides those that
// mention them by name, the same choices as /msteams channels: mentions of a team, channel or tag they are in,
// and replies in threads they started or replied in. While the system admin has not turned Teams channel
// notifications on, it says so and offers nothing to choose.
import React, {useState} from 'react';
import {useSelector} from 'react-redux';

import {useClient, useLoaded} from '../hooks';
import {t, type MessageId} from '../i18n';
import {getConnection} from '../store';

import {LoadError, Loading, Outcome, errorMessage} from './section_state';
import {box, heading, muted, text} from './styles';

type Choice = 'group_mentions' | 'thread_replies';

const saved: Record<Choice, {on: MessageId; off: MessageId}> = {
    group_mentions: {on: 'channels.groupMentionsOnSaved', off: 'channels.groupMentionsOffSaved'},
    thread_replies: {on: 'channels.threadRepliesOnSaved', off: 'channels.threadRepliesOffSaved'},
};

export default function ChannelSettings() {
    const client = useClient();
    const conn = useSelector(getConnection);
    // Reload when the connection changes: the choices go with it.
    const {state, setData, reload} = useLoaded(() => client.getChannelChoices(), [client, conn.connected]);
    const [busy, setBusy] = useState(false);
    const [actionError, setActionError] = useState('');
    const [notice, setNotice] = useState('');

    if (state.status === 'loading') {
        return <Loading testId='msteams-channels-loading' text={t('channels.loading')}/>;
    }
    if (state.status === 'error') {
        return <LoadError testId='msteams-channels-load-error' text={t('channels.loadFailed')} onRetry={reload}/>;
    }
    const choices = state.data;
    if (!choices.enabled) {
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
        const previous = choices;
        // The choice being saved shows at once; it falls back to the saved one when the server refuses it.
        setData({...previous, [choice]: on});
        try {
            setData(await client.setChannelChoices({[choice]: on}));
            setNotice(t(on ? saved[choice].on : saved[choice].off));
        } catch (err) {
            setData(previous);
            setActionError(errorMessage(err));
        } finally {
            setBusy(false);
        }
    };

    const connected = conn.connected === true;
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

            <Outcome error={actionError} notice={notice}/>
        </div>
    );
}
