// System Console control for the Microsoft account links: a CSV of Mattermost e-mails and the Microsoft account
// (object ID or user principal name) each may connect although the e-mails differ (see CsvUploadSetting).
import React from 'react';

import {useClient} from '../hooks';

import type {AdminSettingProps} from './admin_types';
import CsvUploadSetting from './csv_upload_setting';

const texts = {
    chooseFile: 'accountLinks.chooseFile',
    download: 'accountLinks.download',
    format: 'accountLinks.format',
    replaced: 'accountLinks.replaced',
    rejected: 'accountLinks.rejected',
} as const;

export default function AccountLinksSetting(props: AdminSettingProps) {
    const client = useClient();
    return (
        <CsvUploadSetting
            {...props}
            testId='msteams-account-links'
            texts={texts}
            upload={client.uploadAccountLinks}
            downloadURL={client.accountLinksDownloadURL()}
            downloadName='msteams-account-links.csv'
        />
    );
}
