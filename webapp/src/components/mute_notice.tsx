// A short-lived notice in a corner of the screen: the answer to "Mute this Teams chat", which runs from a post's
// menu where the plugin has no place of its own to write. Registered as a root component.
import React, {useEffect, useState} from 'react';

import {errorText, text} from './styles';

export type Notice = {text: string; error: boolean};

type Listener = (n: Notice | null) => void;
const listeners = new Set<Listener>();

// showNotice shows text to whoever is rendering MuteNotice (nobody, in tests that do not render it).
export function showNotice(text: string, error = false) {
    for (const l of listeners) {
        l({text, error});
    }
}

// shownFor is how long a notice stays: long enough to read two sentences.
export const shownFor = 8000;

export default function MuteNotice() {
    const [notice, setNotice] = useState<Notice | null>(null);
    useEffect(() => {
        listeners.add(setNotice);
        return () => {
            listeners.delete(setNotice);
        };
    }, []);
    useEffect(() => {
        if (!notice) {
            return undefined;
        }
        const timer = setTimeout(() => setNotice(null), shownFor);
        return () => clearTimeout(timer);
    }, [notice]);
    if (!notice) {
        return null;
    }
    return (
        <div
            role={notice.error ? 'alert' : 'status'}
            data-testid='msteams-mute-notice'
            style={{
                position: 'fixed', bottom: 24, right: 24, zIndex: 1000, maxWidth: 420, padding: '12px 16px', borderRadius: 4,
                background: 'var(--center-channel-bg, #fff)', boxShadow: '0 8px 24px rgba(0, 0, 0, 0.24)',
                // Coloured text on white reads poorly; the colour goes to the edge, the text stays the theme's.
                ...(notice.error ? errorText : text),
                borderLeft: `4px solid ${notice.error ? 'var(--error-text, #d24b4e)' : 'var(--online-indicator, #06d6a0)'}`,
            }}
        >
            {notice.text}
            <button className='btn btn-link' style={{marginLeft: 8}} onClick={() => setNotice(null)} aria-label='Close'>×</button>
        </div>
    );
}
