import {useCallback, useEffect, useMemo, useState, type DependencyList} from 'react';
import {useStore} from 'react-redux';

import {newClient} from './client';

// useClient returns a client for the site of the store the component is rendered in.
export function useClient() {
    const store = useStore();
    return useMemo(() => newClient(() => store.getState() as never), [store]);
}

export type Loaded<T> = {status: 'loading'} | {status: 'error'} | {status: 'ready'; data: T};

// useLoaded runs load when the component mounts and again whenever one of deps changes (as useEffect does), and
// returns where it stands, setData to replace the loaded data (with what a change the user made saved), and
// reload to run load again (a retry). A reload keeps showing what is there, data or error, until it ends.
export function useLoaded<T>(load: () => Promise<T>, deps: DependencyList) {
    const [state, setState] = useState<Loaded<T>>({status: 'loading'});

    const reload = useCallback(async () => {
        try {
            setState({status: 'ready', data: await load()});
        } catch {
            setState({status: 'error'});
        }
    }, deps);

    useEffect(() => {
        reload();
    }, [reload]);

    const setData = useCallback((data: T) => setState({status: 'ready', data}), []);
    return {state, setData, reload};
}
