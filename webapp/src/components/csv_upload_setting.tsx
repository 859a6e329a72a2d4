// System Console control for a list kept as a CSV file (the whitelist, the Microsoft account links): replace the
// list by uploading a file (nothing changes if any line is wrong, and every wrong line is listed), or download the
// current one to edit it.
import React, {useRef, useState} from 'react';

import {ApiError, type LineError} from '../client';
import {t, type MessageId} from '../i18n';

import type {AdminSettingProps} from './admin_types';
import {errorText, muted, row, successText, text} from './styles';

// Long error lists are cut so the page stays usable; the count says how many more there are.
const maxShownErrors = 50;

// readText uses FileReader, which every browser (and jsdom) has, rather than the newer Blob.text().
function readText(file: Blob): Promise<string> {
    return new Promise((resolve, reject) => {
        const reader = new FileReader();
        reader.onload = () => resolve(String(reader.result ?? ''));
        reader.onerror = () => reject(reader.error);
        reader.readAsText(file);
    });
}

type Result =
    | {kind: 'none'}
    | {kind: 'uploading'}
    | {kind: 'ok'; count: number}
    | {kind: 'lines'; errors: LineError[]}
    | {kind: 'failed'; message: string};

// CsvTexts names the messages of one list: the file label, the buttons and the results.
export type CsvTexts = {
    chooseFile: MessageId;
    download: MessageId;
    format: MessageId;
    replaced: MessageId;
    rejected: MessageId;
};

type Props = AdminSettingProps & {
    testId: string;
    texts: CsvTexts;
    upload: (csv: string) => Promise<{count: number}>;
    downloadURL: string;
    downloadName: string;
};

export default function CsvUploadSetting(props: Props) {
    const {texts} = props;
    const input = useRef<HTMLInputElement>(null);
    const [file, setFile] = useState<File | null>(null);
    const [result, setResult] = useState<Result>({kind: 'none'});

    const upload = async () => {
        if (!file) {
            return;
        }
        setResult({kind: 'uploading'});
        try {
            const {count} = await props.upload(await readText(file));
            setResult({kind: 'ok', count});
            setFile(null);
            if (input.current) {
                input.current.value = '';
            }
        } catch (err) {
            if (err instanceof ApiError && err.lineErrors.length > 0) {
                setResult({kind: 'lines', errors: err.lineErrors});
            } else if (err instanceof ApiError && err.message) {
                setResult({kind: 'failed', message: err.message});
            } else {
                setResult({kind: 'failed', message: t('error.unreachable')});
            }
        }
    };

    const disabled = props.disabled || result.kind === 'uploading';
    return (
        <div data-testid={props.testId}>
            <div style={row}>
                <input
                    ref={input}
                    id={`${props.id}-file`}
                    type='file'
                    accept='.csv,text/csv'
                    aria-label={t(texts.chooseFile)}
                    disabled={disabled}
                    onChange={(e) => {
                        setFile(e.target.files?.[0] ?? null);
                        setResult({kind: 'none'});
                    }}
                />
                <button type='button' className='btn btn-primary' disabled={disabled || !file} onClick={upload}>
                    {result.kind === 'uploading' ? t('csv.uploading') : t('csv.upload')}
                </button>
                <a className='btn btn-tertiary' href={props.downloadURL} download={props.downloadName}>{t(texts.download)}</a>
            </div>
            <p style={muted}>{t(texts.format)}</p>
            {result.kind === 'ok' && (
                <p style={successText} role='status'>{t(texts.replaced, {count: result.count})}</p>
            )}
            {result.kind === 'failed' && <p style={errorText} role='alert'>{result.message}</p>}
            {result.kind === 'lines' && (
                <div role='alert' data-testid={`${props.testId}-errors`}>
                    <p style={errorText}>{t(texts.rejected, {count: result.errors.length})}</p>
                    <ul style={{...text, margin: '4px 0', paddingLeft: 20}}>
                        {result.errors.slice(0, maxShownErrors).map((e) => (
                            <li key={`${e.line}:${e.message}`}>{t('csv.lineError', {line: e.line, message: e.message})}</li>
                        ))}
                    </ul>
                    {result.errors.length > maxShownErrors && (
                        <p style={muted}>{t('csv.moreErrors', {count: result.errors.length - maxShownErrors})}</p>
                    )}
                </div>
            )}
        </div>
    );
}
