// Numbers an administrator checks first: seats used and free, pending invitations, and the whitelist. It shows
// what /api/v1/admin/stats reports; further status sections (for example a diagnostics endpoint) are passed in
// as children and render below the tiles.
import React, {useCallback, useEffect, useState, type ReactNode} from 'react';

import {ApiError, type Stats} from '../client';
import {useClient} from '../hooks';
import {t, type MessageId} from '../i18n';

import {box, errorText, heading, muted, row, text} from './styles';

function Tile({label, value, testId}: {label: MessageId; value: string; testId: string}) {
    return (
        <div style={{...box, minWidth: 140, margin: 0}} data-testid={testId}>
            <div style={{...text, fontSize: 20, fontWeight: 600}}>{value}</div>
            <div style={muted}>{t(label)}</div>
        </div>
    );
}

export default function StatusPanel({children}: {children?: ReactNode}) {
    const client = useClient();
    const [stats, setStats] = useState<Stats | null>(null);
    const [error, setError] = useState('');
    const [loading, setLoading] = useState(true);

    const load = useCallback(async () => {
        setLoading(true);
        setError('');
        try {
            setStats(await client.getStats());
        } catch (err) {
            setError(err instanceof ApiError && err.message ? err.message : t('error.unreachable'));
        } finally {
            setLoading(false);
        }
    }, [client]);

    useEffect(() => {
        load();
    }, [load]);

    return (
        <section style={{...box, marginTop: 16}} data-testid='msteams-status'>
            <div style={{...row, marginTop: 0, justifyContent: 'space-between'}}>
                <p style={heading}>{t('status.title')}</p>
                <button type='button' className='btn btn-tertiary btn-sm' onClick={load} disabled={loading}>{t('status.refresh')}</button>
            </div>
            {error && <p style={errorText} role='alert'>{t('status.failed', {message: error})}</p>}
            {!stats && loading && <p style={muted}>{t('status.loading')}</p>}
            {stats && (
                <div style={row}>
                    <Tile testId='msteams-stat-connected' label='status.connected' value={t('status.ofSeats', {count: stats.connected, seats: stats.seats_allowed})}/>
                    <Tile testId='msteams-stat-available' label='status.seatsAvailable' value={String(stats.seats_available)}/>
                    <Tile testId='msteams-stat-invites' label='status.pendingInvites' value={t('status.ofPool', {count: stats.pending_invites, pool: stats.invite_pool_size})}/>
                    <Tile
                        testId='msteams-stat-whitelist'
                        label={stats.restricted ? 'status.whitelistEnforced' : 'status.whitelistNotEnforced'}
                        value={String(stats.whitelist_size)}
                    />
                </div>
            )}
            {children}
        </section>
    );
}
