import React from 'react';
import {Box, Text} from 'ink';
import {ScreenFrame} from '../components/screen-frame.js';
import {Sparkline} from '../components/sparkline.js';
import {Table, type Column} from '../components/table.js';
import {useAppState} from '../context.js';
import {cacheKinds, hitRatio, intervalRatios, windowRatio, type CacheData, type CacheKind, type TableCacheRow} from '../db/cache.js';
import {ago, dateTime, fit, formatDuration, formatNumber, formatPercent} from '../format.js';
import {useFrameRows} from '../hooks/use-frame-rows.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize} from '../sanitize.js';

const kindLabels: Record<CacheKind, string> = {database: 'Database', heap: 'Table heap', index: 'Indexes'};
const labelWidth = 11;
const valueWidth = 12;

function Ratio({value, target, width}: {value: number | undefined; target: number; width: number}) {
	const text = fit(formatPercent(value, 2), width, 'right');
	if (value === undefined) return <Text dimColor>{text}</Text>;
	return <Text color={value < target ? 'red' : 'green'}>{text}</Text>;
}

const tableName = (t: TableCacheRow) => sanitize(t.schema === 'public' ? t.name : `${t.schema}.${t.name}`, 200);
const pct = (hit: number, read: number) => formatPercent(hitRatio({hit, read}), 1);

const columns: Column<TableCacheRow>[] = [
	{key: 'table', title: 'table', width: 16, grow: 1, ident: true, value: tableName},
	{key: 'reads', title: 'reads', width: 8, align: 'right', value: t => (t.intervalReads === undefined ? '-' : formatNumber(t.intervalReads))},
	{key: 'heap', title: 'heap%', width: 7, align: 'right', priority: 4, value: t => (t.intervalHeap ? pct(t.intervalHeap.hit, t.intervalHeap.read) : '-')},
	{key: 'idx', title: 'idx%', width: 7, align: 'right', priority: 4, value: t => (t.intervalIndex ? pct(t.intervalIndex.hit, t.intervalIndex.read) : '-')},
	{key: 'heapAll', title: 'heap% all', width: 9, align: 'right', priority: 3, value: t => pct(t.heap.hit, t.heap.read)},
	{key: 'idxAll', title: 'idx% all', width: 8, align: 'right', priority: 3, value: t => pct(t.index.hit, t.index.read)},
	{key: 'readsAll', title: 'reads all', width: 12, align: 'right', priority: 2, value: t => formatNumber(t.heap.read + t.index.read + t.toast.read)},
];

/** The history's heading, shortened whole rather than cut inside its scale. */
function historyLabel(floor: string, room: number): string {
	const labels = [`  history, a bar per refresh (${floor}-100%)`, `  history (${floor}-100%)`, '  history'];
	return labels.find(l => l.length <= room) ?? '';
}

function CacheView({data}: {data: CacheData}) {
	const {width, target, background} = useAppState(s => ({width: s.size.columns, target: s.thresholds.cacheTarget, background: s.fleet?.history}));
	// The background sampler runs on every screen, so its five minutes are five minutes, not the time this screen was open.
	const windows = Object.fromEntries(
		cacheKinds.map(kind => {
			const w = background ? windowRatio(background.toArray(), kind) : {ratio: data.ratios[kind].window, seconds: data.ratios[kind].windowSeconds};
			return [kind, w];
		}),
	) as Record<CacheKind, {ratio?: number; seconds?: number}>;
	const screenRows = useFrameRows('cache');
	const sparkWidth = Math.max(8, width - labelWidth - 3 * valueWidth - 2);
	// the target sits mid-height: hit ratios live near 100 %, where a 0-100 scale shows a flat line
	const floor = Math.max(0, target - (1 - target));
	const intervalLabel = data.intervalSeconds ? `last ${formatDuration(data.intervalSeconds * 1000)}` : 'interval';
	const windowSeconds = Math.max(0, ...cacheKinds.map(k => windows[k].seconds ?? 0));
	const windowLabel = windowSeconds >= 299 ? 'last 5m' : windowSeconds > 0 ? `last ${formatDuration(windowSeconds * 1000)}` : 'last 5m';
	const header = fit('', labelWidth) + fit('since reset', valueWidth, 'right') + fit(intervalLabel, valueWidth, 'right') + fit(windowLabel, valueWidth, 'right');
	const topLines = 1 + cacheKinds.length + 1 + 1;
	const height = Math.max(1, screenRows - topLines - 1);
	const keys = data.tables.map(t => String(t.relid));
	const sel = useSelection('cache', keys, height);
	const reset = data.statsReset;
	return (
		<Box flexDirection="column">
			<Text wrap="truncate-end">
				<Text bold>{header}</Text>
				<Text dimColor>{historyLabel(formatPercent(floor, 0), width - header.length)}</Text>
			</Text>
			{cacheKinds.map(kind => {
				const r = data.ratios[kind];
				return (
					<Text key={kind} wrap="truncate-end">
						{fit(kindLabels[kind], labelWidth)}
						<Ratio value={r.cumulative} target={target} width={valueWidth} />
						<Ratio value={r.interval} target={target} width={valueWidth} />
						<Ratio value={windows[kind].ratio} target={target} width={valueWidth} />
						{'  '}
						<Sparkline values={intervalRatios(data.history, kind, sparkWidth)} width={sparkWidth} min={floor} max={1} target={target} invert />
					</Text>
				);
			})}
			<Text wrap="truncate-end" dimColor>
				{`Stats reset ${reset === null ? 'never' : `${dateTime(reset)} (${ago(reset, data.sample.at)})`}`}
				{` · target ${formatPercent(target, 0)}: green at or above, red below · ratio = blks_hit / (blks_hit + blks_read)`}
			</Text>
			<Text wrap="truncate-end">Tables by blocks read outside shared buffers in the last interval:</Text>
			<Table
				columns={columns}
				rows={data.tables}
				rowKey={t => String(t.relid)}
				width={width}
				height={height}
				selection={sel}
				// loadCache's order: most blocks read in the last interval first
				sort={{key: 'reads', descending: true}}
				rowStyle={t => {
					const below = (c: {hit: number; read: number} | undefined) => (hitRatio(c) ?? 1) < target;
					return t.intervalReads && (below(t.intervalHeap) || below(t.intervalIndex)) ? {color: 'yellow'} : undefined;
				}}
				emptyText="No user tables in this database."
			/>
		</Box>
	);
}

export function CacheScreen() {
	return <ScreenFrame screen="cache">{d => <CacheView data={d} />}</ScreenFrame>;
}
