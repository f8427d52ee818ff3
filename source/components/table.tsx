import React from 'react';
import {Box, Text} from 'ink';
import {fit} from '../format.js';

export type Column<R> = {
	key: string;
	title: string;
	/** minimum width; extra space goes to columns with grow */
	width: number;
	grow?: number;
	align?: 'left' | 'right';
	/** lower numbers are dropped first when the terminal is narrow; undefined is never dropped */
	priority?: number;
	value(row: R): string;
};

export type FittedColumn<R> = Column<R> & {actual: number};

/** Drop the least important columns until the rest fit, then share the spare width. */
export function fitColumns<R>(columns: readonly Column<R>[], width: number): FittedColumn<R>[] {
	let kept = [...columns];
	const needed = (cols: readonly Column<R>[]) => cols.reduce((n, c) => n + c.width, 0) + Math.max(0, cols.length - 1);
	while (needed(kept) > width) {
		const droppable = kept.filter(c => c.priority !== undefined);
		if (droppable.length === 0) break;
		const lowest = droppable.reduce((a, b) => ((b.priority ?? 0) < (a.priority ?? 0) ? b : a));
		kept = kept.filter(c => c !== lowest);
	}
	const spare = Math.max(0, width - needed(kept));
	const growTotal = kept.reduce((n, c) => n + (c.grow ?? 0), 0);
	let given = 0;
	return kept.map((c, i) => {
		let extra = growTotal ? Math.floor((spare * (c.grow ?? 0)) / growTotal) : 0;
		// the rounding remainder goes to the last growing column
		if (growTotal && i === kept.map(k => (k.grow ?? 0) > 0).lastIndexOf(true)) extra = spare - given;
		given += extra;
		return {...c, actual: c.width + extra};
	});
}

export type TableSelection = {offset: number; selectedKey?: string};

export type RowStyle = {color?: string; bold?: boolean; dim?: boolean};

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
	emptyText?: string;
}) {
	const {rows, width, height} = props;
	const {offset, selectedKey} = props.selection;
	// The cursor column: the selection must stay visible without colour (NO_COLOR drops inverse too).
	const markWidth = props.mark ? 3 : 2;
	const cols = fitColumns(props.columns, width - markWidth);
	const cell = (c: FittedColumn<R>, text: string) => fit(text, c.actual, c.align);
	const header = cols.map(c => cell(c, c.title)).join(' ');
	// Only the visible slice is rendered: 10,000 rows cost what a screenful costs.
	const visible = rows.slice(offset, offset + height);
	return (
		<Box flexDirection="column" width={width}>
			<Text bold>{' '.repeat(markWidth) + header}</Text>
			{visible.length === 0 ? <Text dimColor>{props.emptyText ?? 'nothing to show'}</Text> : null}
			{visible.map(row => {
				const key = props.rowKey(row);
				const style = props.rowStyle?.(row) ?? {};
				const selected = key === selectedKey;
				const line = fit(`${selected ? '›' : ' '}${props.mark?.(row) ?? ''}`, markWidth) + cols.map(c => cell(c, c.value(row))).join(' ');
				return (
					<Text key={key} inverse={selected} color={style.color} bold={style.bold} dimColor={style.dim}>
						{line}
					</Text>
				);
			})}
		</Box>
	);
}
