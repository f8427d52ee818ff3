import React from 'react';
import {Box, Text} from 'ink';
import type {Capabilities} from '../db/capabilities.js';
import type {Counts, Group, Summary} from '../db/connections.js';
import {quoteIdent} from '../db/sql.js';
import {formatDuration, formatPercent} from '../format.js';
import {sanitize} from '../sanitize.js';
import type {Thresholds} from '../store/store.js';
import {Bar} from './bar.js';
import {Table, type Column, type TableSelection} from './table.js';

/** Lines SessionSummary takes, so the list below it knows its height. */
export function summaryLines(summary: Summary): number {
	return 3 + (summary.sessions.hidden > 0 ? 1 : 0);
}

function Label(props: {children: string}) {
	return (
		<Box width={10} flexShrink={0}>
			<Text dimColor>{props.children}</Text>
		</Box>
	);
}

/** The counts an operator reads first: states, slots against max_connections and the app pool, waiting and hanging. */
export function SessionSummary(props: {summary: Summary; thresholds: Thresholds; caps?: Capabilities; width: number}) {
	const {summary: s, thresholds: t} = props;
	const c = s.sessions;
	const usable = s.maxConnections - s.reserved;
	const barWidth = Math.max(10, Math.min(30, props.width - 60));
	const busiest = s.busiestRole;
	const role = props.caps?.role ?? 'this role';
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">
				<Text bold>{c.total} sessions</Text>: {c.active} active · <Text color={c.idleInTransaction > 0 ? 'yellow' : undefined}>{c.idleInTransaction} idle in tx</Text> ·{' '}
				<Text color={s.waiting > 0 ? 'red' : undefined}>{s.waiting} waiting</Text> ·{' '}
				<Text color={c.hanging > 0 ? 'red' : undefined} bold={c.hanging > 0}>
					{c.hanging} hanging
				</Text>{' '}
				· {c.idle} idle · <Text color={c.aborted > 0 ? 'yellow' : undefined}>{c.aborted} aborted tx</Text>
				{c.other > 0 ? ` · ${c.other} other` : ''}
				{c.hidden > 0 ? <Text color="yellow"> · {c.hidden} hidden</Text> : ''} · {s.workers} workers{' '}
				<Text dimColor>
					(hanging: active &gt; {formatDuration(t.hangingActiveMs)}, idle in tx &gt; {formatDuration(t.hangingIdleTxMs)})
				</Text>
			</Text>
			<Box>
				<Label>Slots</Label>
				<Text wrap="truncate-end">
					<Bar ratio={c.total / usable} width={barWidth} target={t.connectionTarget} /> {c.total}/{usable} {formatPercent(c.total / usable, 0)} of max_connections{' '}
					{s.maxConnections} − {s.reserved} reserved, target {formatPercent(t.connectionTarget, 0)}
				</Text>
			</Box>
			<Box>
				<Label>App pool</Label>
				<Text wrap="truncate-end">
					<Bar ratio={busiest ? busiest.count / t.appPool : 0} width={barWidth} target={t.connectionTarget} /> {busiest?.count ?? 0}/{t.appPool}{' '}
					{busiest ? `${sanitize(busiest.user, 30)}, the role with most sessions` : 'no sessions'} (pool_size + max_overflow {t.appPool})
				</Text>
			</Box>
			{c.hidden > 0 ? (
				<Text color="yellow" wrap="truncate-end">
					{c.hidden} sessions of other roles: state, query and client hidden (counted above). GRANT pg_monitor TO {quoteIdent(role)};
				</Text>
			) : null}
		</Box>
	);
}

type GroupRow = {key: string; heading?: string; group?: Group};

const count = (pick: (c: Counts) => number, title: string, width = 7, priority?: number): Column<GroupRow> => ({
	key: title,
	title,
	width,
	align: 'right',
	priority,
	value: r => (r.group ? String(pick(r.group.counts)) : ''),
});

const groupColumns: Column<GroupRow>[] = [
	{key: 'label', title: 'group', width: 24, grow: 1, value: r => (r.heading ? r.heading : `  ${sanitize(r.group!.label, 200)}`)},
	count(c => c.total, 'total', 6),
	count(c => c.active, 'active', 6),
	count(c => c.idle, 'idle', 6),
	count(c => c.idleInTransaction, 'idle tx', 7),
	count(c => c.aborted, 'aborted', 7, 2),
	count(c => c.waiting, 'waiting', 7, 3),
	count(c => c.hanging, 'hanging', 7, 4),
	count(c => c.hidden, 'hidden', 6, 1),
];

export function groupRows(summary: Summary): GroupRow[] {
	return [
		{key: 'h:db', heading: 'by database / user'},
		...summary.byDatabaseUser.map(group => ({key: `d:${group.label}`, group})),
		{key: 'h:app', heading: 'by application'},
		...summary.byApplication.map(group => ({key: `a:${group.label}`, group})),
	];
}

export function GroupsTable(props: {rows: GroupRow[]; width: number; height: number; selection: TableSelection}) {
	return (
		<Table
			columns={groupColumns}
			rows={props.rows}
			rowKey={r => r.key}
			width={props.width}
			height={props.height}
			selection={props.selection}
			// each heading's groups come most sessions first
			sort={{key: 'total', descending: true}}
			rowStyle={r => (r.heading ? {bold: true} : r.group && r.group.counts.hanging > 0 ? {color: 'red'} : undefined)}
		/>
	);
}
