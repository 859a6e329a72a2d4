// System Console control for the connected-users report: a CSV download and the plugin's status numbers.
import React from 'react';

import {useClient} from '../hooks';
import {t} from '../i18n';

import type {AdminSettingProps} from './admin_types';
import StatusPanel from './status_panel';
import {muted, row} from './styles';

export default function ReportSetting(props: AdminSettingProps) {
    const client = useClient();
    return (
        <div data-testid='msteams-report'>
            <div style={row}>
                <a
                    id={`${props.id}-download`}
                    className='btn btn-primary'
                    href={client.reportDownloadURL()}
                    download='connected-users.csv'
                >
                    {t('report.download')}
                </a>
            </div>
            <p style={muted}>{t('report.help')}</p>
            <StatusPanel/>
        </div>
    );
}
