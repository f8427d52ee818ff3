import React from 'react';
import {Box, Text} from 'ink';
import {useAppState} from '../context.js';
import type {Pool} from '../db/pgbouncer.js';
import {fit, formatMs, formatNumber, formatPercent} from '../format.js';
import {clock} from '../format.js';
import {sanitize} from '../sanitize.js';
import stringWidth from '../text-width.js';

const poolColumns: Array<{title: string; width: number; align?: 'right'; value(p: Pool): string}> = [
	{title: 'database', width: 16, value: p => sanitize(p.database, 60)},
	{title: 'user', width: 16, value: p => sanitize(p.user, 60)},
	{title: 'cl_active', width: 10, align: 'right', value: p => formatNumber(p.clActive)},
	{title: 'cl_waiting', width: 11, align: 'right', value: p => formatNumber(p.clWaiting)},
	{title: 'sv_active', width: 10, align: 'right', value: p => formatNumber(p.svActive)},
	{title: 'sv_idle', width: 8, align: 'right', value: p => formatNumber(p.svIdle)},
	{title: 'sv_used', width: 8, align: 'right', value: p => formatNumber(p.svUsed)},
	{title: 'maxwait', width: 9, align: 'right', value: p => `${p.maxwaitSeconds.toFixed(1)}s`},
	{title: 'mode', width: 12, value: p => sanitize(p.poolMode, 20) || '-'},
];

function cells<T>(cols: Array<{width: number; align?: 'right'; value(x: T): string}>, x: T, width: number): string {
	let out = '';
	for (const c of cols) {
		if (out.length + c.width > width) break;
		out += `${fit(c.value(x), c.width - 1, c.align)} `;
	}
	return out;
}

/** SHOW POOLS, STATS, CLIENTS, SERVERS and CONFIG from the --pgbouncer admin console; read only while this screen is open (POOLS always, for the alert). */
export function PgBouncerScreen() {
	const {t, width} = useAppState(s => ({t: s.fleet?.targets.find(x => x.kind === 'pgbouncer'), width: s.size.columns}));
	if (!t) return <Text>No pgBouncer given: start the console with --pgbouncer postgresql://USER@HOST:6432/pgbouncer (a user in admin_users or stats_users).</Text>;
	if (t.connection.status !== 'live')
		return (
			<Text color="red" wrap="truncate-end">
				pgbouncer {sanitize(t.redacted, 80)}: unreachable ({sanitize(t.connection.lastError, 160) || t.connection.status}), retrying
			</Text>
		);
	const b = t.bouncer;
	if (!b) return <Text dimColor>{t.error ? `Cannot read pgBouncer: ${sanitize(t.error, 200)}` : 'Loading…'}</Text>;
	const d = b.detail;
	const serversUsed = b.pools.reduce((a, p) => a + p.svActive + p.svIdle + p.svUsed, 0);
	const clientsActive = b.pools.reduce((a, p) => a + p.clActive + p.clWaiting, 0);
	// Every line is cut here with fit, not by Ink: Ink's cut would leave a number short ('read 19:…', 'avg query 3.7…').
	const title = `pgBouncer ${sanitize(t.version, 40)} at ${sanitize(t.redacted, 80)} · read ${clock(b.at)}${d ? ` · pool_mode ${sanitize(d.config.poolMode, 20)} · default_pool_size ${d.config.defaultPoolSize} · reserve_pool_size ${d.config.reservePoolSize} · max_client_conn ${d.config.maxClientConn}` : ''}`;
	const waiting = b.waiting > 0 ? `${b.waiting} clients waiting, oldest ${b.maxwaitSeconds.toFixed(1)}s (maxwait): the pool is smaller than the work` : 'no client waiting';
	const usage = d
		? ` · clients ${d.clients} of max_client_conn ${d.config.maxClientConn} (${formatPercent(d.clients / Math.max(1, d.config.maxClientConn), 0)}) · server connections ${serversUsed} (${b.servers.length} open), per pool up to default_pool_size ${d.config.defaultPoolSize}`
		: '';
	const line = (text: string, w = width) => fit(text, w).trimEnd();
	return (
		<Box flexDirection="column">
			<Text>{line(title)}</Text>
			<Text>
				<Text color={b.waiting > 0 ? 'red' : 'green'} bold={b.waiting > 0}>
					{line(waiting)}
				</Text>
				{line(usage, width - stringWidth(waiting))}
			</Text>
			<Text bold>Pools (SHOW POOLS): {b.pools.length} · {clientsActive} clients in pools</Text>
			<Text dimColor>{cells(poolColumns.map(c => ({...c, value: () => c.title})), null, width)}</Text>
			{b.pools.map(p => {
				const size = d?.config.defaultPoolSize;
				const use = size ? (p.svActive + p.svUsed + p.svIdle) / size : undefined;
				return (
					<Text key={`${p.database}/${p.user}`} wrap="truncate-end" color={p.clWaiting > 0 ? 'red' : undefined}>
						{cells(poolColumns, p, width - 14)}
						{use === undefined ? '' : `${formatPercent(use, 0)} of pool`}
					</Text>
				);
			})}
			{d ? (
				<>
					<Text bold>Traffic (SHOW STATS, rates since the last refresh; avg over pgBouncer&apos;s stats period)</Text>
					{d.stats.map(s => {
						const r = d.rates?.[s.database];
						return (
							<Text key={s.database}>
								{line(
									`${fit(sanitize(s.database, 60), 16)} ${r ? `${r.xactsPerSecond.toFixed(1)} xact/s · ${r.queriesPerSecond.toFixed(1)} query/s · xact ${formatMs(r.avgXactMs)} · query ${formatMs(r.avgQueryMs)} · wait ${formatMs(r.avgWaitMs)}` : 'rates after the next refresh'} · avg xact ${formatMs(s.avgXactTimeUs / 1000)} · avg query ${formatMs(s.avgQueryTimeUs / 1000)}`,
								)}
							</Text>
						);
					})}
					<Text>
						{line(
							`Clients (SHOW CLIENTS) ${d.clients} · servers (SHOW SERVERS) ${b.servers.length}: ${['active', 'idle', 'used', 'tested', 'new'].map(st => `${b.servers.filter(s => s.state === st).length} ${st}`).join(', ')}`,
						)}
					</Text>
				</>
			) : (
				<Text dimColor>Loading the admin console&apos;s details…</Text>
			)}
		</Box>
	);
}
