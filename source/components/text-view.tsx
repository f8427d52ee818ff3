import {sanitizeLine} from '../sanitize.js';
import React from 'react';
import {Box, Text} from 'ink';
import {useCommands} from '../context.js';

export type TextLine = string | {text: string; color?: string; bold?: boolean};

/** Keymap command ids a text view scrolls with: the cursor keys on a screen, the help scope's own over help. */
const commandSets = {
	cursor: {up: 'cursor.up', down: 'cursor.down', pageUp: 'cursor.pageUp', pageDown: 'cursor.pageDown', first: 'cursor.first', last: 'cursor.last'},
	help: {up: 'help.up', down: 'help.down', pageUp: 'help.pageUp', pageDown: 'help.pageDown', first: 'help.first', last: 'help.last'},
} as const;

/**
 * The one scrollable text view (session details, a statement, an audit
 * entry, a checklist item, help): a heading saying where you are, the
 * visible lines, and the same keys everywhere: ↑/↓ a line, PgUp/PgDn a page,
 * Home/End the ends. The first line shown is kept by the caller (in the
 * screen's view state), so it survives refreshes and screen switches.
 */
export function TextView(props: {
	title: string;
	lines: readonly TextLine[];
	/** lines of text shown, under the heading */
	height: number;
	scroll: number;
	onScroll(top: number): void;
	/** says "Esc back" in the heading */
	back?: boolean;
	commands?: keyof typeof commandSets;
	active?: boolean;
	width?: number;
}) {
	const height = Math.max(1, props.height);
	const n = props.lines.length;
	const maxScroll = Math.max(0, n - height);
	const top = Math.min(Math.max(0, props.scroll), maxScroll);
	const to = (line: number) => props.onScroll(Math.min(Math.max(0, line), maxScroll));
	const ids = commandSets[props.commands ?? 'cursor'];
	useCommands(
		{
			[ids.up]: () => to(top - 1),
			[ids.down]: () => to(top + 1),
			[ids.pageUp]: () => to(top - height),
			[ids.pageDown]: () => to(top + height),
			[ids.first]: () => to(0),
			[ids.last]: () => to(maxScroll),
		},
		props.active ?? true,
	);
	return (
		<Box flexDirection="column" width={props.width}>
			<Text dimColor wrap="truncate-end">
				{props.title}
				{maxScroll ? ` (↑/↓ scroll, lines ${top + 1}-${Math.min(n, top + height)} of ${n})` : ''}
				{props.back ? ' · Esc back' : ''}
			</Text>
			{props.lines.slice(top, top + height).map((line, i) => {
				const l = typeof line === 'string' ? {text: line} : line;
				return (
					<Text key={i} wrap="truncate-end" color={l.color} bold={l.bold}>
						{sanitizeLine(l.text, 1000) || ' '}
					</Text>
				);
			})}
		</Box>
	);
}
