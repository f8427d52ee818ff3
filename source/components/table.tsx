import React from 'react';
import {Box, Text} from 'ink';
import stringWidth from '../text-width.js';
import {fit, fitIdent, sharedPrefix} from '../format.js';

export type Column<R> = {
	key: string;
	title: string;
	/** minimum width; extra space goes to columns with grow. A number column (align right) widens to its widest value. */
	width: number;
	grow?: number;
	/** right-aligned columns hold numbers: never cut, dropped whole when they cannot fit */
	align?: 'left' | 'right';
	/** lower numbers are dropped first when the terminal is narrow; undefined is never dropped */
	priority?: number;
	/** a name (application, role, object): shortened in the middle or by the prefix the rows share, never cut at its end */
	ident?: boolean;
	/** never dropped, not even a number that cannot fit, and never narrowed (the sort key's column) */
	pinned?: boolean;
	value(row: R): string;
};

export type FittedColumn<R> = Column<R> & {actual: number; prefix: string};

export type Fitted<R> = {columns: FittedColumn<R>[]; hidden: number};

const isNumber = (c: Column<unknown>) => c.align === 'right';
/** ' +N' at the header's end: N columns are hidden at this width */
const markerWidth = 4;
/** a text column gives up width down to this before a number column is dropped */
const textFloor = (c: Column<unknown>) => Math.min(c.width, Math.max(4, stringWidth(c.title)));

/**
 * Numbers first: a column of numbers gets the width of its widest value (among `rows`, the
 * visible ones), text columns take what is left. Columns with the lowest priority go first when
 * the terminal is narrow, then text gives up width, and a number that still cannot fit has its
 * whole column dropped; `hidden` counts the dropped ones, for the header's marker.
 */
export function fitColumns<R>(columns: readonly Column<R>[], width: number, rows: readonly R[] = []): Fitted<R> {
	const want = new Map<Column<R>, number>(
		columns.map(c => [c, isNumber(c) ? rows.reduce((w, r) => Math.max(w, stringWidth(c.value(r))), Math.max(c.width, stringWidth(c.title))) : c.width]),
	);
	let kept = [...columns];
	const needed = () => kept.reduce((n, c) => n + want.get(c)!, 0) + Math.max(0, kept.length - 1);
	const room = () => width - (kept.length < columns.length && !markerInside(kept, want) ? markerWidth : 0);
	const drop = (c: Column<R>) => void (kept = kept.filter(k => k !== c));
	while (needed() > room()) {
		const droppable = kept.filter(c => c.priority !== undefined);
		if (droppable.length === 0) break;
		drop(droppable.reduce((a, b) => ((b.priority ?? 0) < (a.priority ?? 0) ? b : a)));
	}
	for (const c of [...kept].reverse()) {
		if (needed() <= room()) break;
		// the last column keeps room for the marker in its header rather than making every row give it up
		const floor = c === kept.at(-1) && kept.length < columns.length && markerInside(kept, want) ? stringWidth(c.title) + markerWidth : textFloor(c);
		// the sort key's values are what the order is read by: a start time cut to its date would hide it
		if (!isNumber(c) && !c.pinned) want.set(c, Math.max(Math.min(floor, want.get(c)!), want.get(c)! - (needed() - room())));
	}
	// the rightmost number goes first; the first column (the row's identity) stays
	for (let i = kept.length - 1; i > 0 && needed() > room(); i--) if (isNumber(kept[i]!) && !kept[i]!.pinned) drop(kept[i]!);
	// A growing column takes no more than its widest value: what it cannot use goes to the other growing columns (the query, not a short user name).
	const cap = (c: Column<R>) => (rows.length ? rows.reduce((w, r) => Math.max(w, stringWidth(c.value(r))), Math.max(want.get(c)!, stringWidth(c.title))) : Infinity);
	const extra = new Map<Column<R>, number>();
	let spare = Math.max(0, room() - needed());
	let open = kept.filter(c => (c.grow ?? 0) > 0);
	while (spare > 0 && open.length > 0) {
		const growTotal = open.reduce((n, c) => n + c.grow!, 0);
		let given = 0;
		const stillOpen: Column<R>[] = [];
		for (const [i, c] of open.entries()) {
			// the rounding remainder goes to the last growing column
			const share = i === open.length - 1 ? spare - given : Math.floor((spare * c.grow!) / growTotal);
			const has = want.get(c)! + (extra.get(c) ?? 0);
			const got = Math.min(share, cap(c) - has);
			extra.set(c, (extra.get(c) ?? 0) + got);
			given += got;
			if (got === share) stillOpen.push(c);
		}
		spare -= given;
		if (stillOpen.length === open.length) break;
		open = stillOpen;
	}
	const fitted = kept.map(c => {
		const prefix = c.ident ? sharedPrefix(rows.map(r => c.value(r))) : '';
		return {...c, actual: want.get(c)! + (extra.get(c) ?? 0), prefix};
	});
	return {columns: fitted, hidden: columns.length - kept.length};
}

/** The header's ' +N' fits in the last column's title padding (a text column wider than its title): the rows lose no width to it. */
function markerInside<R>(kept: readonly Column<R>[], want: ReadonlyMap<Column<R>, number>): boolean {
	const last = kept.at(-1);
	return last !== undefined && !isNumber(last) && want.get(last)! - stringWidth(last.title) >= markerWidth;
}

/** One cell: numbers whole and right-aligned, names shortened where they still differ, other text cut at the end. */
export function cellText<R>(c: FittedColumn<R>, text: string): string {
	if (c.ident) return fitIdent(text, c.actual, c.prefix);
	return fit(text, c.actual, c.align);
}

export type TableSelection = {offset: number; selectedKey?: string};

export type RowStyle = {color?: string; bold?: boolean; dim?: boolean};

/** The sort key's column: marked with its direction in the header, never dropped and never narrowed. */
export type TableSort = {key: string; descending: boolean};

export function sortedColumns<R>(columns: readonly Column<R>[], sort: TableSort | undefined): readonly Column<R>[] {
	if (!sort) return columns;
	return columns.map(c => (c.key === sort.key ? {...c, title: `${c.title}${sort.descending ? '↓' : '↑'}`, priority: undefined, pinned: true} : c));
}

export function Table<R>(props: {
	columns: readonly Column<R>[];
	rows: readonly R[];
	rowKey(row: R): string;
	width: number;
	/** rows of data shown (the header is one more) */
	height: number;
	/** from useSelection: the first visible row and the selected row's key */
	selection: TableSelection;
	rowStyle?(row: R): RowStyle | undefined;
	/** a marker column on the left: tags, the console's own session */
	mark?(row: R): string;
	sort?: TableSort;
	emptyText?: string;
}) {
	const {rows, width, height} = props;
	const {offset, selectedKey} = props.selection;
	// Only the visible slice is rendered (and measured): 10,000 rows cost what a screenful costs.
	const visible = rows.slice(offset, offset + height);
	// The cursor column: the selection must stay visible without colour (NO_COLOR drops inverse too).
	const markWidth = props.mark ? 3 : 2;
	const {columns: cols, hidden} = fitColumns(sortedColumns(props.columns, props.sort), width - markWidth, visible);
	const titles = cols.map(c => fit(c.title, c.actual, c.align)).join(' ');
	const last = cols.at(-1);
	const inside = hidden > 0 && last !== undefined && last.align !== 'right' && last.actual - stringWidth(last.title) >= markerWidth;
	// in the last title's padding when it has room there, else after it (fitColumns kept the width for it)
	const header = hidden ? (inside ? titles.slice(0, -markerWidth) : titles) + fit(` +${hidden}`, markerWidth, 'right') : titles;
	return (
		<Box flexDirection="column" width={width}>
			<Text bold wrap="truncate-end">
				{' '.repeat(markWidth) + header}
			</Text>
			{visible.length === 0 ? <Text dimColor>{props.emptyText ?? 'nothing to show'}</Text> : null}
			{visible.map(row => {
				const key = props.rowKey(row);
				const style = props.rowStyle?.(row) ?? {};
				const selected = key === selectedKey;
				const line = fit(`${selected ? '›' : ' '}${props.mark?.(row) ?? ''}`, markWidth) + cols.map(c => cellText(c, c.value(row))).join(' ');
				return (
					<Text key={key} inverse={selected} color={style.color} bold={style.bold} dimColor={style.dim} wrap="truncate-end">
						{line}
					</Text>
				);
			})}
		</Box>
	);
}
