// System Console control for the connected-users whitelist: a CSV of emails (see CsvUploadSetting).
import React from 'react';

import {useClient} from '../hooks';

import type {AdminSettingProps} from './admin_types';
import CsvUploadSetting from './csv_upload_setting';

const texts = {
    chooseFile: 'whitelist.chooseFile',
    download: 'whitelist.download',
    format: 'whitelist.format',
    replaced: 'whitelist.replaced',
    rejected: 'whitelist.rejected',
} as const;

export default function WhitelistSetting(props: AdminSettingProps) {
    const client = useClient();
    return (
        <CsvUploadSetting
            {...props}
            testId='msteams-whitelist'
            texts={texts}
            upload={client.uploadWhitelist}
            downloadURL={client.whitelistDownloadURL()}
            downloadName='whitelist.csv'
        />
    );
}
