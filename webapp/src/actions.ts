// Side effects shared by the components and the websocket handlers.
import type {Dispatch} from 'redux';

import type {Client} from './client';
import {meFailed, meLoaded, meLoading} from './store';

// loadMe refreshes the user's connection from the server; failures leave the last known state in place.
export async function loadMe(dispatch: Dispatch, client: Client): Promise<void> {
    dispatch(meLoading());
    try {
        dispatch(meLoaded(await client.getMe()));
    } catch {
        dispatch(meFailed());
    }
}
