// The props Mattermost passes to a component registered with registerAdminConsoleCustomSetting (the subset used).
export type AdminSettingProps = {
    id: string;
    label?: string;
    helpText?: unknown;
    disabled?: boolean;
};
