import React from 'react';
import {Text} from 'ink';

const levels = '▁▂▃▄▅▆▇█';
/** A sample with nothing to measure (no reads in the interval, counters reset). */
export const gap = '·';

export type SparkOptions = {
	/** the value drawn as the lowest bar; anything below is clamped to it */
	min: number;
	max: number;
	/** values past the target are red, the others green */
	target?: number;
	/** higher is better (hit ratios): below the target is bad */
	invert?: boolean;
};

export type SparkCell = {char: string; state: 'good' | 'bad' | 'plain' | 'gap'};

/** One cell per value, oldest first. */
export function sparkCells(values: readonly (number | undefined)[], options: SparkOptions): SparkCell[] {
	const span = options.max - options.min;
	return values.map(v => {
		if (v === undefined || !Number.isFinite(v)) return {char: gap, state: 'gap'};
		const level = span > 0 ? Math.round(((v - options.min) / span) * (levels.length - 1)) : levels.length - 1;
		const char = levels[Math.min(levels.length - 1, Math.max(0, level))]!;
		if (options.target === undefined) return {char, state: 'plain'};
		const bad = options.invert ? v < options.target : v > options.target;
		return {char, state: bad ? 'bad' : 'good'};
	});
}

const colors = {good: 'green', bad: 'red', plain: undefined, gap: undefined} as const;

/**
 * The newest `width` values, right-aligned so the latest sample is always in
 * the same place. With a target, colour says which side of it each sample is.
 */
export function Sparkline(props: SparkOptions & {values: readonly (number | undefined)[]; width: number}) {
	const width = Math.max(1, props.width);
	const cells = sparkCells(props.values.slice(-width), props);
	// consecutive cells of one colour in one <Text>: a 60-sample line is a handful of nodes, not 60
	const runs: Array<{state: SparkCell['state']; text: string}> = [];
	for (const cell of cells) {
		const run = runs[runs.length - 1];
		if (run && run.state === cell.state) run.text += cell.char;
		else runs.push({state: cell.state, text: cell.char});
	}
	return (
		<Text>
			{' '.repeat(width - cells.length)}
			{runs.map((run, i) => (
				<Text key={i} color={colors[run.state]} dimColor={run.state === 'gap'}>
					{run.text}
				</Text>
			))}
		</Text>
	);
}
