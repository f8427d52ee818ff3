import React from 'react';
import {Box, Text} from 'ink';
import {useAppState} from '../context.js';
import stringWidth from '../text-width.js';
import {fit} from '../format.js';
import {activeCommands, keyLabel, type Command} from '../keymap.js';

export function hintText(cmds: readonly Command[]): string {
	return cmds
		.filter(c => c.hint)
		.map(c => `${keyLabel(c.keys[0]!)} ${c.hint}`)
		.join('  ');
}

/**
 * The screen's hints, then the global ones (q quit, ? help) which are always whole:
 * on a narrow terminal the screen's hints drop from their end, marked with …
 */
export function footerHints(local: readonly Command[], global: readonly Command[], width: number): string {
	const right = hintText(global);
	const separator = '  │  ';
	const hints = local.filter(c => c.hint).map(c => `${keyLabel(c.keys[0]!)} ${c.hint}`);
	if (!right) return hints.join('  ');
	const room = width - stringWidth(separator) - stringWidth(right);
	let left = hints.join('  ');
	while (hints.length > 0 && stringWidth(left) > room) {
		hints.pop();
		left = `${hints.join('  ')} …`;
	}
	return [left.trim() === '…' ? '' : left, right].filter(Boolean).join(separator);
}

export function Footer() {
	const s = useAppState(st => ({
		screen: st.screen,
		readOnly: st.readOnly,
		message: st.message && (!st.message.screen || st.message.screen === st.screen) ? st.message : undefined,
		width: st.size.columns,
		overlay: st.overlay,
		dialog: st.dialog !== undefined,
	}));
	const scope = s.dialog ? 'dialog' : (s.overlay ?? s.screen);
	const local = activeCommands(scope, s.readOnly);
	const global = s.overlay || s.dialog ? [] : activeCommands('global', s.readOnly);
	const hints = footerHints(local, global, s.width);
	const color = s.message?.kind === 'error' ? 'red' : s.message?.kind === 'ok' ? 'green' : undefined;
	return (
		<Box flexDirection="column" width={s.width}>
			<Text wrap="truncate-end" color={color}>
				{s.message ? fit(s.message.text, s.width).trimEnd() : ' '}
			</Text>
			<Text wrap="truncate-end" dimColor>
				{hints || ' '}
			</Text>
		</Box>
	);
}
