import React, {useCallback, useEffect, useMemo} from 'react';
import {Box, Text} from 'ink';
import {targetKey} from '../state.js';
import {auditFile, readAudit, type AuditEntry} from '../audit.js';
import {ScreenFrame} from '../components/screen-frame.js';
import {Table, type Column} from '../components/table.js';
import {useAppState, useCommands, useServices} from '../context.js';
import {clock, fitIdent} from '../format.js';
import {formatSql} from '../format-sql.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize, sanitizeMultiline} from '../sanitize.js';
import {setUi} from '../store/store.js';
import {errorText} from '../errors.js';
import {TextView} from '../components/text-view.js';

/** Entries the screen keeps; the file itself is never cut. */
const shownEntries = 1000;

type Row = {key: string; entry: AuditEntry};

function day(iso: string): string {
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? sanitize(iso, 30) : `${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${clock(d)}`;
}

const columns: Column<Row>[] = [
	{key: 'time', title: 'time', width: 14, value: r => day(r.entry.time)},
	{key: 'action', title: 'action', width: 10, value: r => sanitize(r.entry.action, 40)},
	{key: 'result', title: 'result', width: 16, grow: 1, value: r => sanitize(r.entry.result, 300)},
	{key: 'pids', title: 'pids', width: 8, priority: 3, value: r => r.entry.pids?.join(',') ?? ''},
	{key: 'role', title: 'role', width: 10, priority: 2, ident: true, value: r => sanitize(r.entry.role, 60)},
	{key: 'os', title: 'os user', width: 10, priority: 1, ident: true, value: r => sanitize(r.entry.osUser, 60)},
	{key: 'query', title: 'query', width: 16, grow: 2, priority: 4, value: r => sanitize(r.entry.query, 300)},
];

/** Newest first, with a key that stays with its entry as new ones arrive. */
export function auditRows(entries: readonly AuditEntry[]): Row[] {
	const seen = new Map<string, number>();
	const rows = entries.map(entry => {
		const base = `${entry.time}|${entry.action}|${entry.pids?.join(',') ?? ''}`;
		const n = seen.get(base) ?? 0;
		seen.set(base, n + 1);
		return {key: `${base}#${n}`, entry};
	});
	return rows.reverse();
}

/** The audit log is a file, not a query: read it on entering the screen, on every refresh tick, and on Ctrl-R. */
function useAuditLog() {
	const {store, target} = useServices();
	const {intervalMs, paused} = useAppState(s => ({intervalMs: s.intervalMs, paused: s.paused}));
	const read = useCallback(() => {
		try {
			const entries = readAudit(targetKey(target), shownEntries);
			store.setState(st => ({data: {...st.data, activity: {value: entries, at: Date.now()}}}));
		} catch (error) {
			const message = errorText(error);
			store.setState(st => ({data: {...st.data, activity: {...st.data.activity, error: message}}}));
		}
	}, [store, target]);
	useEffect(() => {
		read();
		if (paused) return;
		const timer = setInterval(read, intervalMs);
		return () => clearInterval(timer);
	}, [read, intervalMs, paused]);
	useCommands({'refresh.now': read});
}

export function ActivityScreen() {
	useAuditLog();
	return <ScreenFrame screen="activity">{entries => <Activity entries={entries} />}</ScreenFrame>;
}

function entryLines(e: AuditEntry): string[] {
	const detail = Object.entries(e.detail ?? {}).map(([k, v]) => `  ${k.padEnd(16)} ${sanitize(typeof v === 'string' ? v : JSON.stringify(v), 300)}`);
	return [
		`${sanitize(e.action, 40)} at ${sanitize(e.time, 40)}`,
		`result            ${sanitize(e.result, 500)}`,
		`pids              ${e.pids?.join(', ') || '-'}`,
		`by                ${sanitize(e.osUser, 60)} (OS user) as database role ${sanitize(e.role, 60)}`,
		`target            ${sanitize(e.target, 200)}`,
		...(detail.length ? ['detail', ...detail] : []),
		...(e.query ? ['', ...sanitizeMultiline(formatSql(e.query), 300, 2000).split('\n')] : []),
	];
}

function Activity({entries}: {entries: AuditEntry[]}) {
	const {store, target} = useServices();
	const s = useAppState(st => ({
		width: st.size.columns,
		open: st.ui.activity?.open,
		scroll: st.ui.activity?.scroll ?? 0,
	}));
	const rows = useMemo(() => auditRows(entries), [entries]);
	const keys = useMemo(() => rows.map(r => r.key), [rows]);
	const file = useMemo(() => auditFile(targetKey(target)), [target]);
	const termColumns = useAppState(st => st.size.columns);
	const area = useFrameRows('activity');
	const height = Math.max(1, area - 2);
	const opened = s.open ? rows.find(r => r.key === s.open) : undefined;
	const sel = useSelection('activity', keys, height, {active: !opened});
	// At the top of the log the cursor follows new entries, as a tail does; elsewhere it stays on its entry.
	const newest = keys[0];
	useEffect(() => {
		const stored = store.getState().ui.activity?.selection;
		if ((stored?.selectedIndex ?? 0) === 0) setUi(store, 'activity', {selection: {selectedIndex: 0, offset: 0}});
	}, [newest, store]);
	useCommands({
		details: () => setUi(store, 'activity', {open: rows[sel.selectedIndex]?.key, scroll: 0}),
		back: () => setUi(store, 'activity', {open: undefined}),
	});

	if (opened) {
		return <TextView title="Audit entry" lines={entryLines(opened.entry)} height={area - 1} scroll={s.scroll} onScroll={top => setUi(store, 'activity', {scroll: top})} back />;
	}
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">
				<Text bold>{entries.length} actions</Text> on this database, newest first{' '}
				{/* the path shortened in its middle: its end names the file */}
				<Text dimColor>· {fitIdent(file, Math.max(8, termColumns - `${entries.length} actions on this database, newest first · `.length)).trimEnd()}</Text>
			</Text>
			<Table
				columns={columns}
				rows={rows}
				rowKey={r => r.key}
				width={s.width}
				height={height}
				selection={sel}
				sort={{key: 'time', descending: true}}
				rowStyle={r => (/^(refused|denied|failed)/.test(r.entry.result) || r.entry.action === 'refuse' ? {color: 'red'} : undefined)}
				emptyText="Nothing recorded yet: cancels, terminations, refusals, migrations and backups appear here."
			/>
		</Box>
	);
}
