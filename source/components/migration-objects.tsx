import React from 'react';
import type {RunStep, RunView} from '../actions/migration/run.js';
import type {ObjectInspection} from '../actions/migration/status.js';
import {formatBytes, formatDuration, formatNumber} from '../format.js';
import {sanitize} from '../sanitize.js';
import {Table, type Column, type RowStyle, type TableSelection} from './table.js';

export type ObjectRow = {inspection: ObjectInspection; step?: RunStep};

/** A progress bar as text, for a table cell. */
function barText(fraction: number, width: number): string {
	const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
	return '█'.repeat(filled) + '░'.repeat(width - filled);
}

function stepCell(s: RunStep | undefined, now: number): string {
	if (!s) return '';
	switch (s.status) {
		case 'running': {
			const elapsed = formatDuration(now - (s.startedAt ?? now));
			const f = s.progress?.fraction;
			return f === undefined ? `running ${elapsed}` : `${barText(f, 10)} ${String(Math.round(f * 100)).padStart(3)}% ${elapsed}`;
		}
		case 'done':
			return `done ${formatDuration((s.finishedAt ?? now) - (s.startedAt ?? now))}`;
		case 'failed':
			return 'FAILED';
		case 'cancelled':
			return 'cancelled';
		case 'skipped':
			return s.action === 'leave' ? 'left (not ours)' : 'already done';
		default:
			return 'pending';
	}
}

export function progressText(s: RunStep): string {
	const p = s.progress;
	if (!p) return '';
	const phase = p.phaseIndex ? `phase ${p.phaseIndex}/${p.phaseCount} ${p.phase}` : p.phase;
	const counters = [
		p.blocks && `blocks ${formatNumber(p.blocks[0])}/${formatNumber(p.blocks[1])}`,
		p.tuples && `tuples ${formatNumber(p.tuples[0])}/${formatNumber(p.tuples[1])}`,
		p.lockers && `lockers ${formatNumber(p.lockers[0])}/${formatNumber(p.lockers[1])}`,
	].filter(Boolean);
	const waiting = p.waitingFor.length ? ` · waiting for pid ${p.waitingFor.map(w => w.pid).join(', ')}` : '';
	return `${phase}${counters.length ? ` (${counters.join(', ')})` : ''}${waiting}`;
}

function detailCell(r: ObjectRow): string {
	const s = r.step;
	if (s?.status === 'running') return progressText(s) || s.note || '';
	if (s && (s.status === 'failed' || s.status === 'cancelled') && s.note) return sanitize(s.note, 300);
	const i = r.inspection;
	if (i.state === 'valid') return `${i.sizeBytes === undefined ? '' : `${formatBytes(i.sizeBytes)} · `}serves ${i.object.serves}`;
	return i.detail ?? '';
}

const stateLabel = ({inspection: i}: ObjectRow) => (i.state === 'invalid' ? (i.mismatch ? 'DIFFERS' : 'INVALID') : i.state);

function rowStyle(r: ObjectRow): RowStyle | undefined {
	if (r.step?.status === 'running' || r.inspection.state === 'building') return {color: 'cyan'};
	if (r.step?.status === 'failed' || r.inspection.state === 'invalid') return {color: 'red'};
	if (r.inspection.state === 'valid') return {color: 'green'};
	return undefined;
}

export function objectRows(objects: readonly ObjectInspection[], run: RunView | undefined): ObjectRow[] {
	return objects.map(inspection => ({inspection, step: run?.steps.find(s => s.name === inspection.object.name)}));
}

export function MigrationObjects(props: {rows: readonly ObjectRow[]; width: number; height: number; selection: TableSelection; hasRun: boolean; now: number}) {
	const columns: Column<ObjectRow>[] = [
		{key: 'name', title: 'Object', width: 30, grow: 2, ident: true, value: r => r.inspection.object.name},
		{key: 'table', title: 'Table', width: 16, priority: 2, ident: true, value: r => r.inspection.object.table},
		{key: 'kind', title: 'Kind', width: 6, priority: 1, value: r => (r.inspection.object.unique ? 'unique' : 'index')},
		{key: 'state', title: 'State', width: 8, value: stateLabel},
		...(props.hasRun ? [{key: 'run', title: 'This run', width: 24, value: (r: ObjectRow) => stepCell(r.step, props.now)}] : []),
		{key: 'detail', title: 'Detail', width: 20, grow: 3, priority: 3, value: detailCell},
	];
	return (
		<Table
			columns={columns}
			rows={props.rows}
			rowKey={r => r.inspection.object.name}
			width={props.width}
			height={props.height}
			selection={props.selection}
			rowStyle={rowStyle}
		/>
	);
}
