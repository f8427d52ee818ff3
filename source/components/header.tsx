import React, {useEffect, useState} from 'react';
import {Box, Text} from 'ink';
import {useAppState} from '../context.js';
import {clock, formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';

function useNow(everyMs: number): number {
	const [now, setNow] = useState(Date.now());
	useEffect(() => {
		const t = setInterval(() => setNow(Date.now()), everyMs);
		return () => clearInterval(t);
	}, [everyMs]);
	return now;
}

export function privilegeSummary(caps: {superuser: boolean; pgMonitor: boolean; pgSignalBackend: boolean}): string {
	if (caps.superuser) return 'superuser';
	const has = [caps.pgMonitor && 'pg_monitor', caps.pgSignalBackend && 'pg_signal_backend'].filter(Boolean);
	return has.length ? has.join('+') : 'no monitor privileges';
}

export function Header() {
	const s = useAppState(st => ({
		target: st.target,
		caps: st.caps,
		connection: st.connection,
		paused: st.paused,
		intervalMs: st.intervalMs,
		readOnly: st.readOnly,
		at: st.data[st.screen]?.at,
		refreshing: st.refreshing,
		width: st.size.columns,
	}));
	const now = useNow(1000);
	const caps = s.caps;
	const conn = s.connection;
	let state: React.ReactNode;
	if (conn.status === 'live') state = <Text color="green">● live</Text>;
	else if (conn.status === 'reconnecting')
		state = (
			<Text color="red">
				◌ reconnecting, attempt {conn.attempt} · stale since {conn.staleSince ? clock(conn.staleSince) : '?'}
			</Text>
		);
	else state = <Text color="yellow">◌ {conn.status}</Text>;
	const age = s.at ? formatDuration(now - s.at) : '-';
	return (
		<Box flexDirection="column" width={s.width}>
			<Box justifyContent="space-between">
				<Text wrap="truncate-end">
					<Text bold color="cyan">
						intowork-db
					</Text>{' '}
					{sanitize(s.target, 300)}
					{caps ? `  PG ${sanitize(caps.serverVersion.split(' ')[0], 40)}  up ${formatDuration(now - new Date(caps.startedAt).getTime())}` : ''}
				</Text>
			</Box>
			<Text wrap="truncate-end">
				{state}
				{s.paused ? <Text color="yellow"> ‖ paused</Text> : <Text> every {formatDuration(s.intervalMs)}</Text>}
				<Text> · refreshed {age} ago</Text>
				{caps ? <Text dimColor> · {sanitize(caps.role, 63)} ({privilegeSummary(caps)})</Text> : null}
				{s.readOnly ? <Text color="yellow"> · read-only</Text> : null}
			</Text>
		</Box>
	);
}
