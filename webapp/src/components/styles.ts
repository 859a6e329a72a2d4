// Inline styles that follow the host's theme through Mattermost's CSS variables, with neutral fallbacks.
import type {CSSProperties} from 'react';

export const text: CSSProperties = {color: 'var(--center-channel-color, #3f4350)', fontSize: 14, lineHeight: '20px'};
export const muted: CSSProperties = {...text, opacity: 0.72};
export const heading: CSSProperties = {...text, fontWeight: 600, margin: '0 0 4px'};
export const box: CSSProperties = {
    border: '1px solid rgba(var(--center-channel-color-rgb, 63, 67, 80), 0.16)',
    borderRadius: 4,
    padding: '12px 16px',
    margin: '8px 0',
};
export const errorText: CSSProperties = {...text, color: 'var(--error-text, #d24b4e)'};
export const successText: CSSProperties = {...text, color: 'var(--online-indicator, #06d6a0)'};
export const row: CSSProperties = {display: 'flex', gap: 8, alignItems: 'center', flexWrap: 'wrap', marginTop: 8};
