import React from 'react';
import {Box, Text} from 'ink';
import {useAppState, useServices} from '../context.js';
import {formatBytes, formatDuration, formatPercent} from '../format.js';
import {sanitize} from '../sanitize.js';
import {Bar} from '../components/bar.js';
import {ScreenFrame} from '../components/screen-frame.js';

function Row(props: {label: string; children: React.ReactNode}) {
	return (
		<Box>
			<Box width={22} flexShrink={0}>
				<Text dimColor>{props.label}</Text>
			</Box>
			<Text wrap="truncate-end">{props.children}</Text>
		</Box>
	);
}

/** PgHero-style health at a glance; each line names what it is measured against. */
export function OverviewScreen() {
	const {caps, thresholds, width} = useAppState(s => ({caps: s.caps, thresholds: s.thresholds, width: s.size.columns}));
	const barWidth = Math.max(10, Math.min(40, width - 60));
	// the active plan's target: --migration-plan may name another revision than the built-in one
	const migrationRevision = useServices().config.migration.plan.revision;
	return (
		<ScreenFrame screen="overview">
			{o => {
				const usable = o.maxConnections - o.reserved;
				const used = o.clientConnections / usable;
				const alembic = caps?.intowork.alembicVersion;
				return (
					<Box flexDirection="column">
						<Row label="Connections">
							<Bar ratio={used} width={barWidth} target={thresholds.connectionTarget} /> {o.clientConnections} / {usable} usable (
							{formatPercent(used, 0)}; max_connections {o.maxConnections}, {o.reserved} reserved)
						</Row>
						<Row label="  vs app pool">
							{o.clientConnections} / {thresholds.appPool} (pool_size + max_overflow)
						</Row>
						<Row label="Sessions">
							{o.active} active · {o.idleInTransaction > 0 ? <Text color="yellow">{o.idleInTransaction} idle in transaction</Text> : '0 idle in transaction'} ·{' '}
							{o.waitingOnLocks > 0 ? <Text color="red">{o.waitingOnLocks} waiting on locks</Text> : '0 waiting on locks'}
							{o.unknownState > 0 ? <Text color="yellow"> · {o.unknownState} of other roles: state hidden (GRANT pg_monitor)</Text> : null}
						</Row>
						<Row label="Cache hit ratio">
							<Bar ratio={o.cacheHitRatio} width={barWidth} target={thresholds.cacheTarget} invert /> {formatPercent(o.cacheHitRatio, 2)} since reset ·{' '}
							{formatPercent(o.cacheHitRatioInterval, 2)} last interval (target {formatPercent(thresholds.cacheTarget, 0)})
						</Row>
						<Row label="Transactions/s">{o.transactionsPerSecond === undefined ? '- (needs two samples)' : o.transactionsPerSecond.toFixed(1)}</Row>
						<Row label="Database size">{formatBytes(o.databaseSize)}</Row>
						<Row label="Longest running">
							{o.longest && o.unknownState > 0 ? <Text color="yellow">(of what this role sees; {o.unknownState} of other roles hidden) </Text> : null}
							{o.longest ? (
								<Text color={o.longest.ms > thresholds.hangingActiveMs ? 'red' : undefined}>
									{formatDuration(o.longest.ms)} pid {o.longest.pid} {sanitize(o.longest.application, 40)}: {sanitize(o.longest.query, 200)}
								</Text>
							) : o.unknownState > 0 ? (
								// other roles' queries are invisible without pg_monitor: one of them may be the longest
								<Text color="yellow">none this role can see; {o.unknownState} sessions of other roles hidden (GRANT pg_monitor to see their queries)</Text>
							) : (
								'no active query'
							)}
						</Row>
						<Row label="pg_stat_statements">
							{caps?.statements.state === 'ok' ? (
								<Text color="green">collecting (extension {caps.statements.version})</Text>
							) : (
								<Text color="red">
									{caps?.statements.state}: {caps?.statements.fix}
								</Text>
							)}
						</Row>
						<Row label="Migration">
							{caps?.intowork.alembicUnreadable ? (
								<Text color="yellow">
									alembic_version not readable: {caps.intowork.alembicUnreadable} (GRANT SELECT ON alembic_version TO {caps.role})
								</Text>
							) : alembic === undefined ? (
								'no alembic_version table'
							) : alembic === migrationRevision ? (
								<Text color="green">{migrationRevision} applied</Text>
							) : (
								<Text color="red">
									at {alembic ?? '(empty)'}, {migrationRevision} not applied (screen 6)
								</Text>
							)}
						</Row>
					</Box>
				);
			}}
		</ScreenFrame>
	);
}
