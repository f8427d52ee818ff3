import React, {useEffect, useState} from 'react';
import {Box, Text} from 'ink';
import {readDuplicateRows} from '../actions/migration/duplicate-count.js';
import type {DuplicateCount, DuplicateRows} from '../actions/migration/duplicates.js';
import type {MigrationPlan, PlanObject} from '../actions/migration/plan.js';
import {describeError} from '../actions/migration/session.js';
import {useServices} from '../context.js';
import {formatNumber} from '../format.js';
import {useSelection} from '../hooks/use-selection.js';
import {sanitize} from '../sanitize.js';
import {Table, type Column} from './table.js';

type Row = DuplicateRows['rows'][number] & {key: string};

const cell = (v: unknown) => (v === null || v === undefined ? '∅' : sanitize(typeof v === 'object' ? JSON.stringify(v) : v, 200));

/** The rows of each duplicate group of one unique object: which one stays, which ones archiving moves. */
export function MigrationDuplicates(props: {plan: MigrationPlan; object: PlanObject; count?: DuplicateCount; width: number; height: number}) {
	const {target} = useServices();
	const [loaded, setLoaded] = useState<DuplicateRows | {error: string} | undefined>();
	useEffect(() => {
		let live = true;
		readDuplicateRows(target, props.plan, props.object)
			.then(r => live && setLoaded(r))
			.catch(error => live && setLoaded({error: describeError(error)}));
		return () => {
			live = false;
		};
	}, [target, props.plan, props.object]);
	const rows: Row[] = loaded && 'rows' in loaded ? loaded.rows.map((r, i) => ({...r, key: String(i)})) : [];
	const keys = rows.map(r => r.key);
	const tableHeight = Math.max(1, props.height - 3);
	const sel = useSelection('migration', keys, tableHeight, {name: 'drillSelection'});
	const o = props.object;
	const keep = o.keep ? `first by ${o.keep.join(', ')}` : 'first by primary key';
	const columns: Column<Row>[] =
		loaded && 'columns' in loaded
			? [
					{key: 'group', title: '#', width: 4, align: 'right', value: r => String(r.group)},
					{key: 'fate', title: 'Fate', width: 7, value: r => (r.keep ? 'keep' : 'archive')},
					...loaded.columns.map((c, i) => ({key: c, title: c, width: Math.min(24, Math.max(6, c.length)), grow: i < o.columns.length ? 0 : 1, priority: i < o.columns.length ? undefined : 100 - i, value: (r: Row) => cell(r.values[c])})),
				]
			: [];
	const count = props.count;
	return (
		<Box flexDirection="column" width={props.width}>
			<Text bold wrap="truncate-end">
				Duplicates for {o.name}: {count ? `${formatNumber(count.groups)} groups, ${formatNumber(count.extraRows)} extra rows` : 'not counted yet'} in {o.table} ({o.columns.join(', ')})
			</Text>
			<Text dimColor wrap="truncate-end">
				Archiving keeps the {keep} of each group and moves the others, every column, to {props.plan.archiveSchema}.{o.table}_duplicates · d archives · Esc back
			</Text>
			{loaded === undefined ? <Text dimColor>Loading…</Text> : null}
			{loaded && 'error' in loaded ? <Text color="red">Cannot read the duplicates: {loaded.error}</Text> : null}
			{loaded && 'rows' in loaded ? (
				<>
					<Table
						columns={columns}
						rows={rows}
						rowKey={r => r.key}
						width={props.width}
						height={tableHeight}
						selection={sel}
						rowStyle={r => (r.keep ? {color: 'green'} : {color: 'yellow'})}
						emptyText="no duplicates: the constraint can be added"
					/>
					{count && loaded.groupsShown < count.groups ? <Text dimColor>first {loaded.groupsShown} of {formatNumber(count.groups)} groups shown</Text> : null}
				</>
			) : null}
		</Box>
	);
}
