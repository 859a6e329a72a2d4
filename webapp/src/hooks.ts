import {useMemo} from 'react';
import {useStore} from 'react-redux';

import {newClient} from './client';

// useClient returns a client for the site of the store the component is rendered in.
export function useClient() {
    const store = useStore();
    return useMemo(() => newClient(() => store.getState() as never), [store]);
}
