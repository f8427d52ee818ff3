import React from 'react';
import {Box, Text} from 'ink';
import type {PreflightItem, PreflightLevel, PreflightReport} from '../actions/migration/preflight.js';

const marks: Record<PreflightLevel, {mark: string; color?: string}> = {
	ok: {mark: '✓', color: 'green'},
	info: {mark: '·'},
	warn: {mark: '!', color: 'yellow'},
	block: {mark: '✗', color: 'red'},
};

type Line = {item: PreflightItem; text: string; detail: boolean};

const maxDetailsPerItem = 3;

/**
 * The pre-flight in at most `budget` lines: every item's line first, then
 * the details of what needs attention, in item order, while they fit.
 */
export function preflightLines(report: PreflightReport, budget = Number.POSITIVE_INFINITY): Line[] {
	let room = budget - report.items.length;
	const out: Line[] = [];
	for (const item of report.items) {
		out.push({item, text: `${item.title.padEnd(16)}${item.summary}`, detail: false});
		if (item.level === 'ok' || room <= 0) continue;
		const fits = Math.min(item.lines.length, maxDetailsPerItem, room);
		// A "more" line replaces the last detail that would fit.
		const shown = item.lines.length > fits ? Math.max(0, fits - 1) : fits;
		for (const line of item.lines.slice(0, shown)) out.push({item, text: `${' '.repeat(16)}${line}`, detail: true});
		if (item.lines.length > shown && fits > 0) out.push({item, text: `${' '.repeat(16)}… ${item.lines.length - shown} more (intowork-db migrate --status lists all)`, detail: true});
		room -= fits;
	}
	return out.slice(0, Math.max(0, budget));
}

export function MigrationPreflight(props: {report: PreflightReport; height: number; width: number}) {
	const title = props.report.blocked ? 'blocked' : props.report.needsOverride ? 'needs an override' : 'clear';
	const color = props.report.blocked ? 'red' : props.report.needsOverride ? 'yellow' : 'green';
	const lines = preflightLines(props.report, Math.max(1, props.height - 1));
	return (
		<Box flexDirection="column" width={props.width}>
			<Text bold>
				Pre-flight for an apply: <Text color={color}>{title}</Text>
			</Text>
			{lines.map((l, i) => (
				<Text key={i} wrap="truncate-end" dimColor={l.detail}>
					<Text color={marks[l.item.level].color}>{l.detail ? '  ' : `${marks[l.item.level].mark} `}</Text>
					{l.text}
				</Text>
			))}
		</Box>
	);
}
