import React from 'react';
import {Table, type Column, type TableSelection} from './table.js';
import {stateLabel, type LockRow} from '../db/connections.js';
import {formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';

function who(r: LockRow): string {
	if (r.placeholder === 'prepared') return 'prepared transaction';
	if (r.placeholder === 'unlisted') return '(not in pg_stat_activity)';
	return sanitize(r.backend?.application, 60) || '-';
}

function what(r: LockRow): string {
	if (r.placeholder === 'prepared') return 'holds locks without a session: COMMIT PREPARED or ROLLBACK PREPARED it (see pg_prepared_xacts)';
	const also = r.alsoWaitsFor.length > 0 ? `[also waits for ${r.alsoWaitsFor.slice(0, 5).join(', ')}${r.alsoWaitsFor.length > 5 ? ', …' : ''}] ` : '';
	const cycle = r.cycle ? '[wait cycle: deadlock] ' : '';
	return cycle + also + sanitize(r.backend?.query, 300);
}

const columns: Column<LockRow>[] = [
	{
		key: 'tree',
		title: 'pid',
		width: 14,
		value: r => `${r.depth === 0 ? '' : `${'  '.repeat(r.depth - 1)}└ `}${r.pid}`,
	},
	{key: 'user', title: 'user', width: 10, priority: 3, ident: true, value: r => sanitize(r.backend?.user, 60) || '-'},
	{key: 'app', title: 'application', width: 14, grow: 1, priority: 4, value: who},
	{key: 'state', title: 'state', width: 10, priority: 5, value: r => (r.backend ? stateLabel(r.backend) : '-')},
	{
		key: 'wait',
		title: 'waiting',
		width: 8,
		align: 'right',
		// a root is not waiting: how long its transaction has held on instead
		value: r => (r.depth === 0 ? '' : formatDuration(r.backend?.lockWaitMs)),
	},
	{key: 'xact', title: 'xact age', width: 8, align: 'right', priority: 2, value: r => formatDuration(r.backend?.xactMs)},
	{key: 'behind', title: 'blocks', width: 6, align: 'right', value: r => (r.behind > 0 ? String(r.behind) : '')},
	{key: 'query', title: 'query', width: 16, grow: 3, value: what},
];

/** The lock tree: root blockers first, their waiters indented below with how long each has waited. */
export function LockTree(props: {rows: LockRow[]; width: number; height: number; selection: TableSelection}) {
	return (
		<Table
			columns={columns}
			rows={props.rows}
			rowKey={r => r.key}
			width={props.width}
			height={props.height}
			selection={props.selection}
			rowStyle={r => (r.depth === 0 ? {color: 'red', bold: true} : {color: 'yellow'})}
			emptyText="No session is waiting on a lock."
		/>
	);
}
