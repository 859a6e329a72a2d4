// What the plugin's Settings sections show around their own controls, the same in each: a line while their data
// loads, the load error with a button to try again, and the outcome of the user's last change (the server's
// error, or what was saved).
import React from 'react';

import {ApiError} from '../client';
import {t} from '../i18n';

import {box, errorText, muted, successText} from './styles';

// errorMessage is what a failed change tells the user: the server's reason, or that it could not be reached.
export function errorMessage(err: unknown): string {
    if (err instanceof ApiError && err.message) {
        return err.message;
    }
    return t('error.unreachable');
}

export function Loading({testId, text}: {testId: string; text: string}) {
    return <p style={muted} data-testid={testId}>{text}</p>;
}

export function LoadError({testId, text, onRetry}: {testId: string; text: string; onRetry: () => void}) {
    return (
        <div style={box} data-testid={testId}>
            <p style={errorText}>{text}</p>
            <button className='btn btn-tertiary' onClick={() => onRetry()}>{t('settings.retry')}</button>
        </div>
    );
}

// Outcome shows the error of the last change, or else its notice, or nothing.
export function Outcome({error, notice}: {error: string; notice: string}) {
    return (
        <>
            {error && <p style={errorText} role='alert'>{error}</p>}
            {!error && notice && <p style={successText} role='status'>{notice}</p>}
        </>
    );
}
