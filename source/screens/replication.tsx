import React from 'react';
import {Box, Text} from 'ink';
import {replicaLagOver} from '../alerts/rules.js';
import {defaultAlertThresholds} from '../alerts/settings.js';
import {ScreenFrame} from '../components/screen-frame.js';
import {sortedColumns, type Column} from '../components/table.js';
import {useAppState} from '../context.js';
import {slotFix, type ReplicaSample, type ReplicationData, type Standby} from '../db/replication.js';
import type {TargetStatus} from '../fleet/fleet.js';
import {fit, formatBytes, formatDuration, formatNumber} from '../format.js';
import {sanitize} from '../sanitize.js';

const lagCell = (ms: number | null, bytes: number | null) => `${formatDuration(ms)}/${formatBytes(bytes)}`;

const standbyColumns: Column<Standby>[] = [
	{key: 'application', title: 'application', width: 23, value: s => sanitize(s.application, 60) || '-'},
	{key: 'client', title: 'client', width: 15, value: s => sanitize(s.client, 40) || 'local'},
	{key: 'state', title: 'state', width: 10, value: s => sanitize(s.state, 20)},
	{key: 'sync', title: 'sync', width: 6, value: s => sanitize(s.syncState, 10)},
	{key: 'sent', title: 'sent', width: 9, value: s => formatBytes(s.sentBytes)},
	{key: 'write', title: 'write lag', width: 16, value: s => lagCell(s.writeLagMs, s.writeBytes)},
	{key: 'flush', title: 'flush lag', width: 16, value: s => lagCell(s.flushLagMs, s.flushBytes)},
	{key: 'replay', title: 'replay lag', width: 16, value: s => lagCell(s.replayLagMs, s.replayBytes)},
	{key: 'lsn', title: 'replay LSN', width: 14, value: s => s.replayLsn ?? '-'},
];
/** loadReplication's order (ORDER BY application_name, pid): the first column, always shown */
const standbySort = {key: 'application', descending: false};

function row<T>(cols: ReadonlyArray<{width: number; value(x: T): string}>, x: T, width: number): string {
	let out = '';
	for (const c of cols) {
		if (out.length + c.width > width) break;
		out += fit(c.value(x), c.width - 1) + ' ';
	}
	return out;
}

function header(cols: ReadonlyArray<{title: string; width: number}>, width: number): string {
	return row(
		cols.map(c => ({width: c.width, value: () => c.title})),
		null,
		width,
	);
}

/** The lag as far as it is known (before the first commit is replayed there is no time to give, but the bytes are known); red by the alert's rule. */
export function replicaLag(r: ReplicaSample, maxLagMs: number, maxLagBytes: number): {text: string; over: boolean} {
	const over = replicaLagOver(r, {maxLagMs, maxLagBytes});
	if (r.lagMs === 0 && r.noCommitReplayed) return {text: '0 B: caught up, no commit replayed yet', over: over !== undefined};
	if (r.lagMs !== null) {
		// recent in time yet far behind in bytes: the bytes are why it is red
		const bytes = over === 'bytes' ? `; ${formatBytes(r.replayBehindBytes)} behind (max ${formatBytes(maxLagBytes)})` : '';
		return {text: `${formatDuration(r.lagMs)} (max ${formatDuration(maxLagMs)})${bytes}`, over: over !== undefined};
	}
	if (r.replayBehindBytes !== null)
		return {text: `${formatBytes(r.replayBehindBytes)} behind (max ${formatBytes(maxLagBytes)}); no time lag: no commit replayed since it started`, over: over !== undefined};
	return {text: 'unknown: nothing received by streaming and no commit replayed since it started', over: false};
}

function Replica({t, maxLagMs, maxLagBytes}: {t: TargetStatus; maxLagMs: number; maxLagBytes: number}) {
	const r = t.replica;
	if (t.connection.status !== 'live')
		return (
			<Text color="red" wrap="truncate-end">
				{t.name} {sanitize(t.redacted, 80)}: unreachable ({sanitize(t.connection.lastError, 120) || t.connection.status}), retrying
			</Text>
		);
	if (!r) return <Text dimColor>{t.name}: {t.error ? `cannot read: ${sanitize(t.error, 160)}` : 'Loading…'}</Text>;
	const c = r.conflicts;
	const lag = replicaLag(r, maxLagMs, maxLagBytes);
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">
				<Text bold>{t.name}</Text> {sanitize(t.redacted, 80)} · {r.inRecovery ? 'in recovery (pg_is_in_recovery)' : <Text color="red">NOT in recovery: promoted or not a standby</Text>}
				{r.receiver ? ` · WAL receiver ${sanitize(r.receiver.status, 20)}${r.receiver.sender ? ` from ${sanitize(r.receiver.sender, 60)}` : ''}` : ' · no WAL receiver'}
			</Text>
			<Text wrap="truncate-end">
				{'  '}lag <Text color={lag.over ? 'red' : 'green'}>{lag.text}</Text> · received {r.receiveLsn ?? '-'} · replayed {r.replayLsn ?? '-'} · {formatBytes(r.replayBehindBytes)} to replay
				{r.paused ? <Text color="yellow"> · REPLAY PAUSED{r.pauseState && r.pauseState !== 'paused' ? ` (${r.pauseState})` : ''}: SELECT pg_wal_replay_resume();</Text> : null}
			</Text>
			<Text wrap="truncate-end">
				{'  '}replay delay {formatDuration(r.replayDelayMs)} (now() - pg_last_xact_replay_timestamp()) · hot_standby_feedback {sanitize(r.hotStandbyFeedback, 10)} · max_standby_streaming_delay {sanitize(r.maxStandbyStreamingDelay, 20)}
			</Text>
			<Text wrap="truncate-end">
				{'  '}conflicts (pg_stat_database_conflicts, queries cancelled by replay): snapshot {formatNumber(c.snapshot)} · lock {formatNumber(c.lock)} · bufferpin {formatNumber(c.bufferpin)} · deadlock {formatNumber(c.deadlock)} · tablespace {formatNumber(c.tablespace)}
			</Text>
		</Box>
	);
}

function ReplicationView({data}: {data: ReplicationData}) {
	const {width, targets, maxLagMs, maxLagBytes, major} = useAppState(s => ({
		width: s.size.columns,
		targets: s.fleet?.targets,
		maxLagMs: s.fleet?.thresholds.maxLagMs ?? defaultAlertThresholds.maxLagMs,
		maxLagBytes: s.fleet?.thresholds.maxLagBytes ?? defaultAlertThresholds.maxLagBytes,
		major: s.caps?.major ?? 0,
	}));
	const replicas = targets?.filter(t => t.kind === 'replica') ?? [];
	const keep = data.maxSlotWalKeepSize === undefined ? '' : ` · max_slot_wal_keep_size ${data.maxSlotWalKeepSize === '-1' ? 'unlimited (-1)' : sanitize(data.maxSlotWalKeepSize, 20)}`;
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">
				{data.inRecovery ? 'This target is a standby' : 'Primary'} at {data.currentLsn ?? '-'} · WAL {data.walBytesPerSecond === undefined ? '- (needs two refreshes)' : `${formatBytes(data.walBytesPerSecond)}/s`}
				{keep} · wal_keep {sanitize(data.walKeep, 20)}
			</Text>
			<Text bold wrap="truncate-end">
				Standbys (pg_stat_replication): {data.standbys.length} · lag as time/bytes behind
			</Text>
			{data.standbys.length === 0 ? <Text dimColor>No standby is streaming from this server.</Text> : <Text dimColor>{header(sortedColumns(standbyColumns, standbySort), width)}</Text>}
			{data.standbys.map(s => (
				<Text key={s.pid} wrap="truncate-end" color={s.replayLagMs !== null && s.replayLagMs > maxLagMs ? 'red' : undefined}>
					{row(standbyColumns, s, width)}
				</Text>
			))}
			<Text bold wrap="truncate-end">
				Slots (pg_replication_slots): {data.slots.length}
			</Text>
			{data.slots.length === 0 ? <Text dimColor>No replication slots.</Text> : null}
			{data.slots.map(s => (
				<Box key={s.name} flexDirection="column">
					<Text wrap="truncate-end" color={s.active ? undefined : 'yellow'}>
						{fit(sanitize(s.name, 64), 24)} {fit(s.type, 9)} {fit(s.active ? `active pid ${s.activePid ?? '?'}` : 'INACTIVE', 16)}
						{s.walStatus !== undefined ? ` wal_status ${fit(s.walStatus ?? '-', 11)}` : ''} retains {formatBytes(s.retainedBytes)} of WAL
					</Text>
					{s.active ? null : (
						<Text wrap="truncate-end" dimColor>
							{'    '}fix: {slotFix(s, major)}
						</Text>
					)}
				</Box>
			))}
			<Text bold wrap="truncate-end">
				Replicas (--replica): {replicas.length === 0 ? 'none given' : replicas.length}
			</Text>
			{replicas.map(t => (
				<Replica key={t.name} t={t} maxLagMs={maxLagMs} maxLagBytes={maxLagBytes} />
			))}
			<Text dimColor wrap="truncate-end">
				Lag is 0 while everything received is replayed; else the replay delay, which on an idle primary grows with nothing behind (no commit to replay).
			</Text>
		</Box>
	);
}

export function ReplicationScreen() {
	return <ScreenFrame screen="replication">{d => <ReplicationView data={d} />}</ScreenFrame>;
}
