import React, {useEffect, useEffectEvent, useMemo, useState} from 'react';
import {Box, Text} from 'ink';
import stringWidth from '../text-width.js';
import {audit} from '../audit.js';
import {ScreenFrame} from '../components/screen-frame.js';
import {Sparkline} from '../components/sparkline.js';
import {Table, type Column, type RowStyle} from '../components/table.js';
import {TextField} from '../components/text-field.js';
import {useAppState, useCommands, useServices, type Services} from '../context.js';
import {hitRatio} from '../db/cache.js';
import {quoteIdent} from '../db/sql.js';
import {
	genericPlan,
	resetGrant,
	resetStatements,
	statementText,
	type GenericPlan,
	type IntervalStatement,
	type Statement,
	type StatementsData,
	type StatementsReady,
	type StatementsUnavailable,
} from '../db/statements.js';
import {ago, dateTime, formatDuration, formatMs, formatNumber, formatPercent} from '../format.js';
import {formatSql} from '../format-sql.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize, sanitizeMultiline} from '../sanitize.js';
import {setMessage, setUi} from '../store/store.js';
import {errorText} from '../errors.js';
import type {StatementsMode as Mode, StatementsSort as Sort} from '../store/view-state.js';
import {TextView} from '../components/text-view.js';

const sorts: readonly Sort[] = ['time', 'mean', 'calls'];

type Ui = {mode: Mode; sort: Sort; filter: string; filtering: boolean; detail?: string; detailScroll: number};

function useStatementsUi(): Ui {
	return useAppState(s => {
		const ui = s.ui.statements ?? {};
		return {
			// the interval is the default: cumulative numbers hide an incident under months of normal traffic
			mode: ui.mode ?? 'interval',
			sort: ui.sort ?? 'time',
			filter: ui.filter ?? '',
			filtering: ui.filtering === true,
			detail: ui.detail,
			detailScroll: ui.detailScroll ?? 0,
		};
	});
}

type StatementRow = {s: Statement; i?: IntervalStatement};

/** The column each sort key shows in, marked in the header (biggest first). */
const sortColumn = (sort: Sort, mode: Mode) => ({time: mode === 'interval' ? 'ms' : 'total', mean: 'mean', calls: 'calls'})[sort];

const sortValue: Record<Sort, (r: StatementRow) => number> = {
	time: r => r.i?.totalMs ?? r.s.totalMs,
	mean: r => r.i?.meanMs ?? r.s.meanMs,
	calls: r => r.i?.calls ?? r.s.calls,
};

/** The rows of one mode, filtered and sorted, biggest first. */
function statementRows(data: StatementsReady, mode: Mode, sort: Sort, filter: string): StatementRow[] {
	let rows: StatementRow[];
	if (mode === 'interval') {
		const byKey = new Map(data.statements.map(s => [s.key, s]));
		rows = (data.interval?.statements ?? []).flatMap(i => {
			const s = byKey.get(i.key);
			return s ? [{s, i}] : [];
		});
	} else rows = data.statements.map(s => ({s}));
	const needle = filter.trim().toLowerCase();
	if (needle) rows = rows.filter(r => r.s.text.toLowerCase().includes(needle) || (r.s.role ?? '').toLowerCase().includes(needle) || r.s.queryid === needle);
	const value = sortValue[sort];
	return rows.sort((a, b) => value(b) - value(a) || a.s.key.localeCompare(b.s.key));
}

/** Rates with the precision they deserve: 0.05, 3.4, 1,234. */
function rate(n: number | undefined): string {
	if (n === undefined || !Number.isFinite(n)) return '-';
	if (n < 10) return n.toFixed(2);
	if (n < 100) return n.toFixed(1);
	return formatNumber(n);
}

const ratioOf = (hit: number, read: number) => formatPercent(hitRatio({hit, read}), 1);
const queryText = (s: Statement) =>
	s.hidden
		? `(${s.hidden} statements of ${sanitize(s.role ?? String(s.userid), 63)}: text hidden)`
		: `${s.toplevel ? '' : '(nested) '}${s.unreadable ? '(text unreadable: see the note above)' : sanitize(s.text, 400)}`;

function columns(mode: Mode, ioTiming: boolean, interval: {seconds: number; totalMs: number}): Column<StatementRow>[] {
	const role: Column<StatementRow> = {key: 'role', title: 'role', width: 10, priority: 2, ident: true, value: r => sanitize(r.s.role ?? String(r.s.userid), 40)};
	const query: Column<StatementRow> = {key: 'query', title: 'query', width: 20, grow: 1, value: r => queryText(r.s)};
	if (mode === 'interval') {
		const i = (r: StatementRow) => r.i!;
		return [
			{key: 'ms', title: 'ms/s', width: 7, align: 'right', value: r => rate(i(r).msPerSecond)},
			{key: 'share', title: 'share', width: 6, align: 'right', priority: 3, value: r => formatPercent(interval.totalMs > 0 ? i(r).totalMs / interval.totalMs : undefined, 0)},
			{key: 'calls', title: 'calls/s', width: 8, align: 'right', priority: 5, value: r => rate(i(r).callsPerSecond)},
			{key: 'mean', title: 'mean', width: 8, align: 'right', value: r => formatMs(i(r).meanMs)},
			{key: 'rows', title: 'rows/call', width: 9, align: 'right', priority: 1, value: r => rate(i(r).rows / i(r).calls)},
			{key: 'hit', title: 'hit%', width: 6, align: 'right', priority: 4, value: r => ratioOf(i(r).sharedHit, i(r).sharedRead)},
			...(ioTiming ? [{key: 'io', title: 'I/O ms/s', width: 8, align: 'right', priority: 0, value: (r: StatementRow) => rate(i(r).ioMs / interval.seconds)} as Column<StatementRow>] : []),
			role,
			query,
		];
	}
	return [
		{key: 'total', title: 'total', width: 8, align: 'right', value: r => formatMs(r.s.totalMs)},
		{key: 'calls', title: 'calls', width: 9, align: 'right', priority: 5, value: r => formatNumber(r.s.calls)},
		{key: 'mean', title: 'mean', width: 8, align: 'right', value: r => formatMs(r.s.meanMs)},
		{key: 'max', title: 'max', width: 8, align: 'right', priority: 4, value: r => formatMs(r.s.maxMs)},
		{key: 'stddev', title: 'stddev', width: 8, align: 'right', priority: 3, value: r => formatMs(r.s.stddevMs)},
		{key: 'rows', title: 'rows', width: 9, align: 'right', priority: 1, value: r => formatNumber(r.s.rows)},
		{key: 'hit', title: 'hit%', width: 6, align: 'right', priority: 4, value: r => ratioOf(r.s.sharedHit, r.s.sharedRead)},
		...(ioTiming ? [{key: 'io', title: 'I/O', width: 8, align: 'right', priority: 0, value: (r: StatementRow) => formatMs(r.s.ioMs)} as Column<StatementRow>] : []),
		role,
		query,
	];
}

type Note = {text: string; color?: string; dim?: boolean};

function notesFor(data: StatementsReady, mode: Mode, role: string | undefined): Note[] {
	const notes: Note[] = [];
	if (data.fix)
		notes.push({
			color: 'yellow',
			text: `pg_stat_statements ${data.version} predates this server's ${data.caps.availableVersion ?? 'files'} (created before an upgrade): ${data.fix.join(' ')}`,
		});
	if (data.probe.track === 'none')
		notes.push({color: 'red', text: "pg_stat_statements.track = none: nothing is recorded. ALTER SYSTEM SET pg_stat_statements.track = 'top'; SELECT pg_reload_conf();"});
	if (mode === 'interval' && data.interval?.evicted)
		notes.push({
			color: 'yellow',
			text: `${data.interval.evicted} entries evicted in this interval: pg_stat_statements.max (${data.probe.max ?? '?'}) is too small; raise it (needs a restart)`,
		});
	else if (mode === 'cumulative' && data.info && data.info.dealloc > 0)
		notes.push({dim: true, text: `${formatNumber(data.info.dealloc)} evictions since the reset: totals miss statements that were pushed out (pg_stat_statements.max ${data.probe.max ?? '?'})`});
	if (data.textsError) {
		const n = data.statements.filter(s => s.unreadable).length;
		notes.push({
			color: 'yellow',
			// pg_stat_statements converts every text on the server before it filters: one bad entry hides them all
			text: `${n} text${n === 1 ? '' : 's'} unreadable: a statement from a SQL_ASCII database holds bytes invalid here (${sanitize(data.textsError, 300)}); the numbers are complete; reset that entry in its database to read texts again`,
		});
	}
	if (data.textsVia)
		notes.push({dim: true, text: `Texts read as bytes through SQL_ASCII database ${sanitize(data.textsVia, 63)}: a statement holds bytes that are not UTF-8 (shown as \\xNN)`});
	if (data.hiddenTexts > 0)
		notes.push({dim: true, text: `${data.hiddenTexts} statements of other roles without their text: GRANT pg_read_all_stats TO ${role ? sanitize(quoteIdent(role), 70) : 'this role'};`});
	return notes;
}

function modeLine(data: StatementsReady, mode: Mode, sort: Sort, shown: number): string {
	const sortName = {time: mode === 'interval' ? 'time (ms/s)' : 'total time', mean: 'mean time', calls: 'calls'}[sort];
	if (mode === 'interval') {
		const span = data.interval ? `last ${formatDuration(data.interval.seconds * 1000)}` : 'measuring';
		return `This interval (${span}) · ${shown} of ${data.statements.length} statements ran · by ${sortName}`;
	}
	const reset = data.info?.statsReset;
	const since = reset ? `since reset ${dateTime(reset)} (${ago(reset, data.probe.serverTime)})` : 'since the statistics were reset';
	return `Totals ${since} · ${shown} statements · by ${sortName}`;
}

function LoadLine({data, width, slowMs}: {data: StatementsReady; width: number; slowMs: number}) {
	const load = data.load.toArray();
	const last = load[load.length - 1];
	const sparkWidth = Math.max(8, Math.min(40, width - 60));
	const values = data.load.latest(sparkWidth).map(l => l.msPerSecond);
	return (
		<Text wrap="truncate-end">
			<Text dimColor>DB time </Text>
			{last ? `${rate(last.msPerSecond)} ms/s ` : '- '}
			<Sparkline values={values} width={sparkWidth} min={0} max={Math.max(1, ...values)} />
			{last ? ` · ${rate(last.callsPerSecond)} calls/s` : ''}
			<Text dimColor> · mean over {formatDuration(slowMs)} in red</Text>
		</Text>
	);
}

function StatementList({data, ui}: {data: StatementsReady; ui: Ui}) {
	const {store} = useServices();
	const {width, slowMs, role} = useAppState(s => ({width: s.size.columns, slowMs: s.thresholds.slowMeanMs, role: s.caps?.role}));
	const screenRows = useFrameRows('statements');
	const rows = useMemo(() => statementRows(data, ui.mode, ui.sort, ui.filter), [data, ui.mode, ui.sort, ui.filter]);
	const keys = useMemo(() => rows.map(r => r.s.key), [rows]);
	const notes = notesFor(data, ui.mode, role);
	const filterLine = ui.filtering || ui.filter ? 1 : 0;
	const height = Math.max(1, screenRows - 2 - notes.length - filterLine - 1);
	const sel = useSelection('statements', keys, height);
	const cols = useMemo(
		() => columns(ui.mode, data.probe.ioTiming, {seconds: data.interval?.seconds ?? 1, totalMs: (data.interval?.statements ?? []).reduce((n, s) => n + s.totalMs, 0)}),
		[ui.mode, data],
	);
	useCommands({
		details: () => {
			if (sel.selectedKey) setUi(store, 'statements', {detail: sel.selectedKey, detailScroll: 0});
		},
		back: ui.filter ? () => setUi(store, 'statements', {filter: ''}) : undefined,
	});
	const slow = (r: StatementRow) => (r.i?.meanMs ?? r.s.meanMs) > slowMs;
	let empty: string;
	if (ui.filter) empty = `No statement matches "${ui.filter}" (Esc clears the filter).`;
	else if (ui.mode === 'interval' && !data.interval) empty = 'Measuring: the interval view needs a second sample, at the next refresh. m shows the totals since the reset.';
	else if (ui.mode === 'interval') empty = `No statement ran in database ${sanitize(data.probe.database, 63)} during the last ${formatDuration(data.interval!.seconds * 1000)}.`;
	else empty = `No statements recorded in database ${sanitize(data.probe.database, 63)} since the reset.`;
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">{modeLine(data, ui.mode, ui.sort, rows.length)}</Text>
			<LoadLine data={data} width={width} slowMs={slowMs} />
			{notes.map((n, i) => (
				<Text key={i} wrap="truncate-end" color={n.color} dimColor={n.dim}>
					{n.text}
				</Text>
			))}
			{ui.filtering ? (
				<TextField
					label="Filter (text, role or query id): "
					initial={ui.filter}
					onChange={filter => setUi(store, 'statements', {filter})}
					onSubmit={() => setUi(store, 'statements', {filtering: false})}
					onCancel={() => setUi(store, 'statements', {filtering: false, filter: ''})}
				/>
			) : ui.filter ? (
				<Text wrap="truncate-end">
					Filter: <Text bold>{ui.filter}</Text> <Text dimColor>(/ to change, Esc to clear)</Text>
				</Text>
			) : null}
			<Table
				columns={cols}
				rows={rows}
				rowKey={r => r.s.key}
				width={width}
				height={height}
				selection={sel}
				sort={{key: sortColumn(ui.sort, ui.mode), descending: true}}
				mark={r => (slow(r) ? '!' : '')}
				rowStyle={(r): RowStyle | undefined => (slow(r) ? {color: 'red'} : undefined)}
				emptyText={empty}
			/>
		</Box>
	);
}

/** Pre-wrapped to the width (wide characters count double), so scrolling counts real screen lines. */
function wrap(lines: readonly string[], width: number): string[] {
	const out: string[] = [];
	for (const line of lines) {
		let current = '';
		let used = 0;
		for (const char of line) {
			const w = stringWidth(char);
			if (used + w > width) {
				out.push(current);
				current = '';
				used = 0;
			}
			current += char;
			used += w;
		}
		out.push(current);
	}
	return out;
}

type Loaded = {text?: string; plan?: GenericPlan; error?: string};

function planLines(plan: GenericPlan | undefined, major: number): string[] {
	if (major < 16) return ['Generic plan: needs PostgreSQL 16 or later (EXPLAIN (GENERIC_PLAN)).'];
	if (!plan) return ['Generic plan (EXPLAIN (GENERIC_PLAN), read-only transaction):', '  planning…'];
	if ('unavailable' in plan) return [`Generic plan: none (${sanitize(plan.unavailable)}).`];
	if ('error' in plan) return ['Generic plan (EXPLAIN (GENERIC_PLAN), read-only transaction):', `  failed: ${sanitize(plan.error)}`];
	// sanitizeMultiline keeps the indentation that is the plan's tree
	return ['Generic plan (EXPLAIN (GENERIC_PLAN), read-only transaction):', ...sanitizeMultiline(plan.plan.join('\n'), 1000).split('\n').map(l => `  ${l}`)];
}

function statLines(data: StatementsReady, s: Statement, i: IntervalStatement | undefined, slowMs: number): Array<{text: string; color?: string}> {
	const lines: Array<{text: string; color?: string}> = [
		{
			text: s.hidden
				? `${s.hidden} statements of role ${sanitize(s.role ?? String(s.userid), 63)}, summed: their texts and query ids are hidden from this role`
				: `Query id ${s.queryid} · role ${sanitize(s.role ?? String(s.userid), 63)}${s.toplevel ? '' : ' · nested (run inside a function)'}`,
		},
		{
			text: `Since reset: ${formatNumber(s.calls)} calls · total ${formatMs(s.totalMs)} · mean ${formatMs(s.meanMs)} · max ${formatMs(s.maxMs)} · stddev ${formatMs(s.stddevMs)} · ${rate(s.rows / Math.max(1, s.calls))} rows/call · hit ${ratioOf(s.sharedHit, s.sharedRead)}${data.probe.ioTiming ? ` · I/O ${formatMs(s.ioMs)}` : ''}`,
			color: s.meanMs > slowMs ? 'red' : undefined,
		},
	];
	if (i)
		lines.push({
			text: `This interval: ${rate(i.callsPerSecond)} calls/s · ${rate(i.msPerSecond)} ms/s · mean ${formatMs(i.meanMs)} · hit ${ratioOf(i.sharedHit, i.sharedRead)}`,
			color: i.meanMs > slowMs ? 'red' : undefined,
		});
	else lines.push({text: 'This interval: did not run'});
	return lines;
}

function StatementDetail({data, statementKey, scroll}: {data: StatementsReady; statementKey: string; scroll: number}) {
	const {store, db, target} = useServices();
	const {width, major, slowMs} = useAppState(s => ({width: s.size.columns, major: s.caps?.major ?? 0, slowMs: s.thresholds.slowMeanMs}));
	const screenRows = useFrameRows('statements');
	const s = data.statements.find(x => x.key === statementKey);
	const i = data.interval?.statements.find(x => x.key === statementKey);
	const [loaded, setLoaded] = useState<Loaded>({});
	// read once per opened statement (not per refresh): the text does not change, and a plan is worth one look;
	// an effect event reads the refresh in force without re-running on each one
	const read = useEffectEvent(async (cancelled: () => boolean) => {
		if (!s) return;
		try {
			const text = (s.hidden ? undefined : await statementText(db, data, s, target)) ?? s.text;
			if (cancelled()) return;
			setLoaded({text});
			const plan = major >= 16 ? await genericPlan(db, major, text) : undefined;
			if (!cancelled()) setLoaded({text, plan});
		} catch (error) {
			if (!cancelled()) setLoaded({error: errorText(error)});
		}
	});
	useEffect(() => {
		let cancelled = false;
		void read(() => cancelled);
		return () => {
			cancelled = true;
		};
	}, [statementKey]);
	const head = s ? statLines(data, s, i, slowMs) : [{text: 'This statement is no longer in pg_stat_statements (reset or evicted).', color: 'yellow'}];
	const text = loaded.text ?? s?.text ?? '';
	const textLines = useMemo(
		() =>
			sanitizeMultiline(formatSql(text), 1000)
				.split('\n')
				.map(l => `  ${l}`),
		[text],
	);
	const body = [
		'',
		'Normalized text (constants are $1, $2…):',
		...(loaded.error ? [`  could not read the full text: ${sanitize(loaded.error)}`] : []),
		...textLines,
		'',
		...planLines(loaded.plan, major),
	];
	const lines = wrap(body, Math.max(10, width));
	useCommands({back: () => setUi(store, 'statements', {detail: undefined, detailScroll: 0})});
	return (
		<Box flexDirection="column">
			{head.map((l, n) => (
				<Text key={n} wrap="truncate-end" color={l.color}>
					{l.text}
				</Text>
			))}
			<TextView
				title="Statement"
				lines={lines}
				height={screenRows - head.length - 1}
				scroll={scroll}
				onScroll={top => setUi(store, 'statements', {detailScroll: top})}
				back
			/>
		</Box>
	);
}

const stateTitles: Record<StatementsUnavailable['caps']['state'], string> = {
	ok: '',
	outdated: '',
	'not-available': 'pg_stat_statements is not installed on this server (the contrib package is missing).',
	'not-preloaded': 'pg_stat_statements is not loaded: it is not in shared_preload_libraries.',
	'not-created': 'pg_stat_statements is loaded, but the extension is not created in this database.',
};

function Unavailable({data}: {data: StatementsUnavailable}) {
	return (
		<Box flexDirection="column">
			<Text color="red" bold wrap="wrap">
				{stateTitles[data.caps.state] || `pg_stat_statements: ${data.caps.state}`}
			</Text>
			{data.caps.state === 'not-preloaded' ? (
				<Text dimColor wrap="truncate-end">
					{data.probe.preload === undefined
						? 'This role may not read shared_preload_libraries (superuser or pg_read_all_settings).'
						: `shared_preload_libraries is now ${data.probe.preload ? `'${sanitize(data.probe.preload, 200)}'` : 'empty'}.`}
				</Text>
			) : null}
			<Text> </Text>
			<Text>The slow-query view needs it. To fix, as a superuser:</Text>
			{data.fix.map((line, i) => (
				<Text key={i} color="yellow" wrap="wrap">
					{'  '}
					{sanitize(line, 500)}
				</Text>
			))}
			<Text> </Text>
			<Text dimColor wrap="wrap">
				This screen notices the change on its next refresh; after a restart the console reconnects by itself.
			</Text>
		</Box>
	);
}

function confirmReset(services: Services, data: StatementsData | undefined) {
	const {store, db, target, refreshNow} = services;
	if (data?.kind !== 'ready') {
		setMessage(store, 'pg_stat_statements is not available in this database: nothing to reset', 'error');
		return;
	}
	const database = sanitize(data.probe.database, 63);
	const run = async () => {
		const st = store.getState();
		const role = st.caps?.role ?? target.user;
		const record = (result: string) => {
			try {
				audit({key: target, role, target: st.target}, {action: 'statements.reset', result, detail: {database: data.probe.database, dbid: data.probe.dbid, statements: data.statements.length}});
			} catch {
				// the reset happened (or not) whatever the log did; the message says which
			}
		};
		try {
			await resetStatements(db, data);
			record('ok');
			setMessage(store, `Query statistics of database ${database} reset; other databases kept theirs.`, 'ok');
			refreshNow();
		} catch (error) {
			const pgError = error as {code?: string; message?: string};
			const message = sanitize(pgError.message ?? String(error), 300);
			record(`failed: ${message}`);
			const hint = pgError.code === '42501' ? ` (superuser, or ${resetGrant(data.version, data.schema, role)})` : '';
			setMessage(store, `Reset failed: ${message}${hint}`, 'error');
		}
	};
	store.setState({
		dialog: {
			title: `Reset pg_stat_statements for database ${database}?`,
			lines: [
				`Clears the ${formatNumber(data.statements.length)} statements recorded for this database only;`,
				'other databases on the server keep theirs.',
				'Totals, means and maxima restart from zero.',
				`Runs ${data.schema === 'public' ? '' : `${sanitize(data.schema, 63)}.`}pg_stat_statements_reset(0, ${data.probe.dbid}, 0).`,
			],
			confirmLabel: 'reset',
			onConfirm: () => run(),
		},
	});
}

export function StatementsScreen() {
	const services = useServices();
	const {store} = services;
	const ui = useStatementsUi();
	const data = useAppState(s => s.data.statements?.value);
	useCommands(
		{
			'statements.mode': () => setUi(store, 'statements', {mode: ui.mode === 'interval' ? 'cumulative' : 'interval'}),
			'statements.sort': () => setUi(store, 'statements', {sort: sorts[(sorts.indexOf(ui.sort) + 1) % sorts.length]}),
			'statements.filter': () => setUi(store, 'statements', {filtering: true}),
			'statements.reset': () => confirmReset(services, data),
		},
		ui.detail === undefined,
	);
	return (
		<ScreenFrame screen="statements">
			{d =>
				d.kind === 'unavailable' ? (
					<Unavailable data={d} />
				) : ui.detail ? (
					<StatementDetail data={d} statementKey={ui.detail} scroll={ui.detailScroll} />
				) : (
					<StatementList data={d} ui={ui} />
				)
			}
		</ScreenFrame>
	);
}
