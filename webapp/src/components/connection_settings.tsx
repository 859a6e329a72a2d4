// The plugin's section in the user's Settings: whether the account is connected to Microsoft Teams, the action
// to connect or disconnect, and whether Teams chats are forwarded. Everything updates live when the connection
// or the preference changes in another tab, another device or through /msteams.
import React, {useEffect, useState} from 'react';
import {useDispatch, useSelector} from 'react-redux';

import {loadMe} from '../actions';
import {ApiError} from '../client';
import {useClient} from '../hooks';
import {t} from '../i18n';
import {connectionChanged, getConnection, getCurrentUserId, notificationsEnabled, notificationsSaved, preferenceSaved} from '../store';

import {LoadError, Loading, Outcome, errorMessage} from './section_state';
import {box, heading, muted, row, text} from './styles';

function formatDate(iso: string | null): string {
    if (!iso) {
        return '';
    }
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(undefined, {year: 'numeric', month: 'long', day: 'numeric'});
}

export default function ConnectionSettings() {
    const client = useClient();
    const dispatch = useDispatch();
    const conn = useSelector(getConnection);
    const saved = useSelector(notificationsEnabled);
    const userId = useSelector(getCurrentUserId);

    const [confirming, setConfirming] = useState(false);
    const [busy, setBusy] = useState(false);
    const [actionError, setActionError] = useState('');
    const [notice, setNotice] = useState('');
    // The choice being saved shows at once; it falls back to the saved one when the server refuses it.
    const [pending, setPending] = useState<boolean | null>(null);
    const notifications = pending ?? saved;

    useEffect(() => {
        loadMe(dispatch, client);
    }, [dispatch, client]);

    useEffect(() => {
        // A change made elsewhere makes a pending confirmation or message stale.
        setConfirming(false);
        setActionError('');
        setNotice('');
    }, [conn.connected]);

    if (conn.status === 'unknown' || conn.status === 'loading') {
        return <Loading testId='msteams-loading' text={t('settings.loading')}/>;
    }
    if (conn.status === 'error') {
        return <LoadError testId='msteams-load-error' text={t('settings.loadFailed')} onRetry={() => loadMe(dispatch, client)}/>;
    }

    const connect = () => {
        setActionError('');
        // The sign-in runs in its own tab; this one learns the result from the connection_changed event.
        const opened = window.open(client.connectURL(), '_blank');
        if (!opened) {
            setActionError(t('settings.popupBlocked'));
            return;
        }
        setNotice(t('settings.connectOpened'));
    };

    const disconnect = async () => {
        setBusy(true);
        setActionError('');
        try {
            await client.disconnect();
            dispatch(connectionChanged(false));
            setNotice('');
            await loadMe(dispatch, client);
        } catch (err) {
            // 409 means it was already disconnected elsewhere; refresh to show the truth.
            if (err instanceof ApiError && err.status === 409) {
                await loadMe(dispatch, client);
            } else {
                setActionError(errorMessage(err));
            }
        } finally {
            setBusy(false);
            setConfirming(false);
        }
    };

    const setNotificationsTo = async (enabled: boolean) => {
        if (enabled === notifications) {
            return;
        }
        setBusy(true);
        setActionError('');
        setPending(enabled);
        try {
            await client.setNotifications(enabled);
            dispatch(notificationsSaved(enabled));
            if (userId) {
                dispatch(preferenceSaved(userId, enabled));
            }
            setNotice(enabled ? t('settings.notificationsOnSaved') : t('settings.notificationsOffSaved'));
        } catch (err) {
            setActionError(errorMessage(err));
        } finally {
            setPending(null);
            setBusy(false);
        }
    };

    return (
        <div data-testid='msteams-settings'>
            <div style={box} data-testid={conn.connected ? 'msteams-connected' : 'msteams-disconnected'}>
                <p style={heading}>{conn.connected ? t('settings.connectedTitle') : t('settings.disconnectedTitle')}</p>
                {conn.connected ? (
                    <p style={muted}>
                        {conn.teamsEmail ? t('settings.connectedAs', {email: conn.teamsEmail}) : t('settings.connectedNoEmail')}
                        {conn.connectedAt ? ' ' + t('settings.connectedSince', {date: formatDate(conn.connectedAt)}) : ''}
                    </p>
                ) : (
                    <p style={muted}>{t('settings.disconnectedHelp')}</p>
                )}
                <div style={row}>
                    {!conn.connected && (
                        <button className='btn btn-primary' onClick={connect} disabled={busy}>{t('settings.connect')}</button>
                    )}
                    {conn.connected && !confirming && (
                        <button className='btn btn-tertiary' onClick={() => setConfirming(true)} disabled={busy}>{t('settings.disconnect')}</button>
                    )}
                    {conn.connected && confirming && (
                        <>
                            <span style={text}>{t('settings.disconnectConfirm')}</span>
                            <button className='btn btn-danger' onClick={disconnect} disabled={busy}>{t('settings.disconnectYes')}</button>
                            <button className='btn btn-tertiary' onClick={() => setConfirming(false)} disabled={busy}>{t('settings.cancel')}</button>
                        </>
                    )}
                </div>
            </div>

            <fieldset style={{...box, opacity: conn.connected ? 1 : 0.6}} disabled={!conn.connected || busy} data-testid='msteams-notifications'>
                <legend style={heading}>{t('settings.notificationsTitle')}</legend>
                <p style={muted}>{conn.connected ? t('settings.notificationsHelp') : t('settings.notificationsNeedConnection')}</p>
                <label style={{...text, display: 'block', marginTop: 8}}>
                    <input
                        type='radio'
                        name='msteams-notifications'
                        value='on'
                        checked={conn.connected && notifications}
                        onChange={() => setNotificationsTo(true)}
                    />{' '}{t('settings.notificationsOn')}
                </label>
                <label style={{...text, display: 'block'}}>
                    <input
                        type='radio'
                        name='msteams-notifications'
                        value='off'
                        checked={conn.connected && !notifications}
                        onChange={() => setNotificationsTo(false)}
                    />{' '}{t('settings.notificationsOff')}
                </label>
            </fieldset>

            <Outcome error={actionError} notice={notice}/>
        </div>
    );
}
