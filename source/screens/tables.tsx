import React, {useMemo} from 'react';
import {Box, Text} from 'ink';
import {ScreenFrame} from '../components/screen-frame.js';
import {Table, type Column, type RowStyle} from '../components/table.js';
import {useAppState, useCommands, useServices} from '../context.js';
import {quoteIdent} from '../db/sql.js';
import {sizesEveryMs, type IndexStat, type TableStat, type TablesData} from '../db/tables.js';
import {ago, dateTime, formatBytes, formatNumber} from '../format.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize} from '../sanitize.js';
import {setUi} from '../store/store.js';
import type {TablesView as View} from '../store/view-state.js';

const tableSorts = ['size', 'dead', 'seq'] as const;
const indexSorts = ['problems', 'size', 'scans'] as const;
type TableSort = (typeof tableSorts)[number];
type IndexSort = (typeof indexSorts)[number];

const qualified = (schema: string, name: string) => sanitize(schema === 'public' ? name : `${schema}.${name}`, 200);
const size = (bytes: number, estimated: boolean) => `${estimated ? '~' : ''}${formatBytes(bytes)}`;
const deadShare = (t: TableStat) => (t.liveRows + t.deadRows > 0 ? t.deadRows / (t.liveRows + t.deadRows) : 0);

const tableOrder: Record<TableSort, (a: TableStat, b: TableStat) => number> = {
	size: (a, b) => b.sizes.total - a.sizes.total,
	dead: (a, b) => b.deadRows - a.deadRows,
	seq: (a, b) => b.seqRows - a.seqRows,
};

const problemRank = (i: IndexStat) => (i.invalid ? 0 : i.unused ? 1 : i.building ? 2 : 3);
const indexOrder: Record<IndexSort, (a: IndexStat, b: IndexStat) => number> = {
	problems: (a, b) => problemRank(a) - problemRank(b) || b.bytes - a.bytes,
	size: (a, b) => b.bytes - a.bytes,
	scans: (a, b) => a.scans - b.scans || b.bytes - a.bytes,
};

/** The column each sort key shows in, marked in the header. */
const sortColumn: Record<TableSort, string> = {size: 'total', dead: 'dead', seq: 'seqRows'};
// problems: the state column, worst first (invalid, unused, building); scans: fewest first
const indexSortColumn: Record<IndexSort, {key: string; descending: boolean}> = {
	problems: {key: 'flag', descending: true},
	size: {key: 'size', descending: true},
	scans: {key: 'scans', descending: false},
};

const sortLabels: Record<TableSort | IndexSort, string> = {
	size: 'size',
	dead: 'dead rows',
	seq: 'rows read by sequential scans',
	problems: 'invalid, then unused, by size',
	scans: 'fewest scans',
};

function tableColumns(now: number): Column<TableStat>[] {
	const when = (t?: number) => (t === undefined ? 'never' : ago(t, now).replace(' ago', ''));
	return [
		// wide enough for the usual table name whole: a less important number column goes first
		{key: 'table', title: 'table', width: 20, grow: 1, ident: true, value: t => qualified(t.schema, t.name)},
		{key: 'total', title: 'total', width: 9, align: 'right', value: t => size(t.sizes.total, t.estimated)},
		{key: 'heap', title: 'heap', width: 9, align: 'right', priority: 3, value: t => size(t.sizes.heap, t.estimated)},
		{key: 'indexes', title: 'indexes', width: 9, align: 'right', priority: 3, value: t => size(t.sizes.indexes, t.estimated)},
		{key: 'toast', title: 'toast', width: 8, align: 'right', priority: 1, value: t => size(t.sizes.toast, t.estimated)},
		{key: 'live', title: 'live', width: 9, align: 'right', priority: 4, value: t => formatNumber(t.liveRows)},
		{key: 'dead', title: 'dead', width: 8, align: 'right', value: t => formatNumber(t.deadRows)},
		{key: 'seq', title: 'seq scans', width: 9, align: 'right', priority: 5, value: t => formatNumber(t.seqScans)},
		{key: 'seqRows', title: 'seq rows', width: 10, align: 'right', priority: 2, value: t => formatNumber(t.seqRows)},
		{key: 'idx', title: 'idx scans', width: 9, align: 'right', priority: 5, value: t => (t.idxScans === null ? 'no index' : formatNumber(t.idxScans))},
		{key: 'vacuum', title: 'vacuum', width: 7, align: 'right', priority: 0, value: t => when(t.lastVacuum)},
		{key: 'autovacuum', title: 'autovac', width: 7, align: 'right', priority: 2, value: t => when(t.lastAutovacuum)},
		{key: 'analyze', title: 'analyze', width: 7, align: 'right', priority: 1, value: t => when(Math.max(t.lastAnalyze ?? 0, t.lastAutoanalyze ?? 0) || undefined)},
	];
}

function flag(i: IndexStat): string {
	if (i.invalid) return 'INVALID';
	if (i.building) return 'building';
	if (i.unused) return 'unused';
	if (i.planned) return 'plan';
	if (i.primary) return 'primary';
	if (i.unique) return 'unique';
	if (i.constraint) return 'exclude';
	return '';
}

const indexColumns = (at: number): Column<IndexStat>[] => [
	{key: 'flag', title: 'state', width: 8, value: flag},
	{key: 'name', title: 'index', width: 16, grow: 1, ident: true, value: i => qualified(i.schema, i.name)},
	{key: 'table', title: 'table', width: 14, priority: 3, ident: true, value: i => sanitize(i.table, 200)},
	{key: 'size', title: 'size', width: 9, align: 'right', value: i => size(i.bytes, i.estimated)},
	{key: 'scans', title: 'scans', width: 10, align: 'right', value: i => formatNumber(i.scans)},
	// PostgreSQL keeps no creation time: known only for what a migration apply recorded creating
	{key: 'age', title: 'age', width: 7, align: 'right', priority: 2, value: i => (i.createdAt === undefined ? '?' : ago(i.createdAt, at))},
	{key: 'def', title: 'definition', width: 20, grow: 2, priority: 1, value: i => sanitize(i.definition.replace(/^CREATE (UNIQUE )?INDEX \S+ ON /, ''), 400)},
];

const indexStyle = (i: IndexStat): RowStyle | undefined => (i.invalid ? {color: 'red'} : i.unused ? {color: 'yellow'} : i.building ? {dim: true} : undefined);
const tableStyle = (t: TableStat): RowStyle | undefined => (deadShare(t) > 0.2 && t.deadRows > 1000 ? {color: 'yellow'} : undefined);

/** What to run about the selected index, for the line under the list. */
function indexAdvice(i: IndexStat, reset: string, at: number): string {
	const name = `${quoteIdent(i.schema)}.${quoteIdent(i.name)}`;
	const created = i.createdAt === undefined ? '' : `created ${dateTime(i.createdAt)} (${ago(i.createdAt, at)}); `;
	if (i.invalid) return `invalid, a failed concurrent build: REINDEX INDEX CONCURRENTLY ${name}; or DROP INDEX CONCURRENTLY ${name};`;
	if (i.building) return `being built (${i.building}): it turns valid when the build finishes`;
	if (i.unused)
		return `never scanned here since the stats reset (${reset}); its age is not recorded: check it is older than that and unused on replicas, then DROP INDEX CONCURRENTLY ${name};`;
	if (i.planned) return `${created}an index of the migration plan: kept whatever its scans (${formatNumber(i.scans)} ${reset}). ${i.definition}`;
	if (i.createdAt !== undefined && i.scans === 0) return `${created}younger than the stats window (${reset}): 0 scans says nothing yet. ${i.definition}`;
	return i.definition;
}

function TablesView({data, view, sort}: {data: TablesData; view: View; sort: string}) {
	const {width} = useAppState(s => ({width: s.size.columns}));
	const screenRows = useFrameRows('tables');
	const height = Math.max(1, screenRows - 3 - 1);
	const tables = useMemo(() => [...data.tables].sort((a, b) => tableOrder[sort as TableSort]?.(a, b) || a.name.localeCompare(b.name)), [data, sort]);
	const indexes = useMemo(() => [...data.indexes].sort((a, b) => indexOrder[sort as IndexSort]?.(a, b) || a.name.localeCompare(b.name)), [data, sort]);
	const tableSel = useSelection('tables', view === 'tables' ? tables.map(t => String(t.relid)) : [], height, {name: 'tableSelection', active: view === 'tables'});
	const indexSel = useSelection('tables', view === 'indexes' ? indexes.map(i => String(i.indexrelid)) : [], height, {name: 'indexSelection', active: view === 'indexes'});
	const reset = data.statsReset === null ? 'since the cluster was created' : `since ${dateTime(data.statsReset)} (${ago(data.statsReset, data.at)})`;
	const sizesRead = `Sizes read ${ago(data.sizes.at, data.at)} (every ${sizesEveryMs / 1000}s).`;
	if (view === 'tables') {
		const total = data.tables.reduce((n, t) => n + t.sizes.total, 0);
		const estimated = data.tables.filter(t => t.estimated).length;
		return (
			<Box flexDirection="column">
				<Text wrap="truncate-end">
					{data.tables.length} tables, {formatBytes(total)} · by {sortLabels[sort as TableSort]} (s) · i: indexes
				</Text>
				<Text wrap="truncate-end" dimColor>
					{sizesRead} Scans counted {reset}; vacuum and analyze ages in server time.
					{estimated ? ` ~ ${estimated} table(s) under an exclusive lock: sizes estimated from pg_class.` : ''}
				</Text>
				<Table
					columns={tableColumns(data.at)}
					rows={tables}
					rowKey={t => String(t.relid)}
					width={width}
					height={height}
					selection={tableSel}
					sort={{key: sortColumn[sort as TableSort], descending: true}}
					rowStyle={tableStyle}
					emptyText="No user tables in this database."
				/>
			</Box>
		);
	}
	const unused = data.indexes.filter(i => i.unused);
	const invalid = data.indexes.filter(i => i.invalid);
	const selected = indexes.find(i => String(i.indexrelid) === indexSel.selectedKey);
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">
				{data.indexes.length} indexes ·{' '}
				<Text color={unused.length ? 'yellow' : undefined}>
					{unused.length} unused ({formatBytes(unused.reduce((n, i) => n + i.bytes, 0))})
				</Text>{' '}
				· <Text color={invalid.length ? 'red' : undefined}>{invalid.length} invalid</Text> · by {sortLabels[sort as IndexSort]} (s) · i: tables
			</Text>
			<Text wrap="truncate-end" dimColor>
				{sizesRead} Scans counted {reset}, on this server only.
			</Text>
			<Table
				columns={indexColumns(data.at)}
				rows={indexes}
				rowKey={i => String(i.indexrelid)}
				width={width}
				height={height - 2}
				selection={indexSel}
				sort={indexSortColumn[sort as IndexSort]}
				rowStyle={indexStyle}
				emptyText="No indexes on user tables in this database."
			/>
			{/* two lines: the statements to run must be readable whole, even at 80 columns */}
			<Box height={2}>
				<Text wrap="wrap" color={selected?.invalid ? 'red' : selected?.unused ? 'yellow' : undefined}>
					{selected ? sanitize(indexAdvice(selected, reset, data.at), 1000) : ' '}
				</Text>
			</Box>
		</Box>
	);
}

function useTablesUi(): {view: View; sort: string} {
	return useAppState(s => {
		const view = s.ui.tables?.view ?? 'tables';
		const sorts: readonly string[] = view === 'tables' ? tableSorts : indexSorts;
		const stored = view === 'tables' ? s.ui.tables?.tablesSort : s.ui.tables?.indexesSort;
		return {view, sort: stored && sorts.includes(stored) ? stored : sorts[0]!};
	});
}

export function TablesScreen() {
	const {store} = useServices();
	const {view, sort} = useTablesUi();
	useCommands({
		'tables.view': () => setUi(store, 'tables', {view: view === 'tables' ? 'indexes' : 'tables'}),
		'tables.sort': () => {
			const sorts: readonly string[] = view === 'tables' ? tableSorts : indexSorts;
			const next = sorts[(sorts.indexOf(sort) + 1) % sorts.length];
			setUi(store, 'tables', view === 'tables' ? {tablesSort: next} : {indexesSort: next});
		},
	});
	return <ScreenFrame screen="tables">{d => <TablesView data={d} view={view} sort={sort} />}</ScreenFrame>;
}
