import React, {type ReactNode} from 'react';
import {Box, Text} from 'ink';
import {useAppState} from '../context.js';
import {clock} from '../format.js';
import type {ScreenId} from '../keymap.js';

/**
 * Wraps every screen: data from an earlier poll is never shown as current.
 * A lost connection or a failed poll marks it stale with the time it was read.
 */
export function ScreenFrame<T>(props: {screen: ScreenId; children(value: T): ReactNode}) {
	const s = useAppState(st => ({slot: st.data[props.screen], status: st.connection.status, liveSince: st.connection.liveSince}));
	const value = s.slot?.value as T | undefined;
	// after a reconnect, until the first poll on the new connection lands
	const fromOldConnection = s.slot?.at !== undefined && s.liveSince !== undefined && s.slot.at < s.liveSince;
	const stale = s.status !== 'live' || s.slot?.error !== undefined || fromOldConnection;
	return (
		<Box flexDirection="column" flexGrow={1}>
			{stale && s.slot?.at ? (
				<Text color="red" wrap="truncate-end">
					STALE: data from {clock(s.slot.at)}
					{s.slot.error ? ` · last refresh failed: ${s.slot.error}` : ''}
				</Text>
			) : null}
			{value === undefined ? (
				<Text color={s.slot?.error ? 'red' : undefined} dimColor={!s.slot?.error}>
					{s.slot?.error ? `Cannot load: ${s.slot.error}` : 'Loading…'}
				</Text>
			) : (
				props.children(value)
			)}
		</Box>
	);
}
