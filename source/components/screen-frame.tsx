import React, {type ReactNode} from 'react';
import {Box, Text} from 'ink';
import {useAppState} from '../context.js';
import {clock} from '../format.js';
import {sanitize} from '../sanitize.js';
import type {ScreenId} from '../keymap.js';
import type {ConnectionState} from '../db/monitor.js';
import type {DataSlot} from '../store/store.js';
import type {ScreenData} from '../store/view-state.js';

/** Data that is not current: the connection is down, the last poll failed, or it was read on a previous connection. */
export function isStale(slot: DataSlot<unknown> | undefined, connection: ConnectionState): boolean {
	// after a reconnect, until the first poll on the new connection lands
	const fromOldConnection = slot?.at !== undefined && connection.liveSince !== undefined && slot.at < connection.liveSince;
	return connection.status !== 'live' || slot?.error !== undefined || fromOldConnection;
}

/**
 * Wraps every screen: data from an earlier poll is never shown as current.
 * A lost connection or a failed poll marks it stale with the time it was read.
 */
export function ScreenFrame<K extends ScreenId>(props: {screen: K; children(value: ScreenData[K]): ReactNode}) {
	const s = useAppState(st => {
		const slot: DataSlot<ScreenData[K]> | undefined = st.data[props.screen];
		return {slot, stale: isStale(slot, st.connection)};
	});
	const value = s.slot?.value;
	const stale = s.stale;
	return (
		<Box flexDirection="column" flexGrow={1}>
			{stale && s.slot?.at ? (
				<Text color="red" wrap="truncate-end">
					STALE: data from {clock(s.slot.at)}
					{s.slot.error ? ` · last refresh failed: ${sanitize(s.slot.error, 500)}` : ''}
				</Text>
			) : null}
			{value === undefined ? (
				<Text color={s.slot?.error ? 'red' : undefined} dimColor={!s.slot?.error}>
					{s.slot?.error ? `Cannot load: ${sanitize(s.slot.error, 500)}` : 'Loading…'}
				</Text>
			) : (
				props.children(value)
			)}
		</Box>
	);
}
