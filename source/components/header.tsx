import React, {useEffect, useState} from 'react';
import {Box, Text} from 'ink';
import {useAppState} from '../context.js';
import {clock, formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';

/**
 * The time, updated only when what the header shows would change: every
 * frame redraws the whole terminal, so a clock ticking every second would
 * cost CPU even while paused.
 */
function useNow(nextChange: (now: number) => number): number {
	const [now, setNow] = useState(Date.now());
	const delay = Math.max(50, nextChange(now));
	useEffect(() => {
		const t = setTimeout(() => setNow(Date.now()), delay);
		return () => clearTimeout(t);
	}, [now, delay]);
	return now;
}

/** Server uptime to the minute once past the first one: the header need not redraw every second for it. */
export function formatUptime(ms: number): string {
	if (ms < 60_000) return formatDuration(ms);
	const m = Math.floor(ms / 60_000);
	if (m < 60) return `${m}m`;
	return formatDuration(ms);
}

function uptimeChangesIn(ms: number): number {
	if (ms < 60_000) return 1000 - (ms % 1000);
	return 60_000 - (ms % 60_000);
}

/** A refresh older than this is late: the header says how old the data is. */
export function lateAfterMs(intervalMs: number): number {
	return intervalMs * 2 + 1000;
}

/** The interval asked for, and what polls achieve when it is noticeably slower. */
export function intervalText(intervalMs: number, achievedMs: number | undefined): string {
	const asked = `every ${formatDuration(intervalMs)}`;
	return achievedMs !== undefined && achievedMs > intervalMs * 1.25 ? `${asked} (achieved ${formatDuration(achievedMs)})` : asked;
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
		achievedMs: st.achievedIntervalMs,
		width: st.size.columns,
	}));
	const startedAt = s.caps ? new Date(s.caps.startedAt).getTime() : undefined;
	const now = useNow(t => {
		const uptime = startedAt === undefined ? Number.POSITIVE_INFINITY : uptimeChangesIn(t - startedAt);
		if (s.at === undefined || s.paused) return uptime;
		const lateIn = s.at + lateAfterMs(s.intervalMs) - t;
		return Math.min(uptime, lateIn > 0 ? lateIn : 1000 - ((t - s.at) % 1000));
	});
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
	const late = s.at !== undefined && !s.paused && now - s.at > lateAfterMs(s.intervalMs);
	return (
		<Box flexDirection="column" width={s.width}>
			<Box justifyContent="space-between">
				<Text wrap="truncate-end">
					<Text bold color="cyan">
						intowork-db
					</Text>{' '}
					{sanitize(s.target, 300)}
					{caps && startedAt !== undefined ? `  PG ${sanitize(caps.serverVersion.split(' ')[0], 40)}  up ${formatUptime(now - startedAt)}` : ''}
				</Text>
			</Box>
			<Text wrap="truncate-end">
				{state}
				{s.paused ? <Text color="yellow"> ‖ paused{s.at ? ` · data from ${clock(s.at)}` : ''}</Text> : <Text> {intervalText(s.intervalMs, s.achievedMs)}</Text>}
				{late && s.at ? <Text color="yellow"> · refreshed {formatDuration(now - s.at)} ago</Text> : null}
				{caps ? <Text dimColor> · {sanitize(caps.role, 63)} ({privilegeSummary(caps)})</Text> : null}
				{s.readOnly ? <Text color="yellow"> · read-only</Text> : null}
			</Text>
		</Box>
	);
}
