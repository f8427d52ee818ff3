import React from 'react';
import {Box, Text} from 'ink';
import {useAppState} from '../context.js';
import {activeCommands, keyLabel, type Command} from '../keymap.js';
import {sanitizeLine} from '../sanitize.js';

export function hintText(cmds: readonly Command[]): string {
	return cmds
		.filter(c => c.hint)
		.map(c => `${keyLabel(c.keys[0]!)} ${c.hint}`)
		.join('  ');
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
	const hints = [hintText(local), hintText(global)].filter(Boolean).join('  │  ');
	const color = s.message?.kind === 'error' ? 'red' : s.message?.kind === 'ok' ? 'green' : undefined;
	return (
		<Box flexDirection="column" width={s.width}>
			<Text wrap="truncate-end" color={color}>
				{s.message ? sanitizeLine(s.message.text, 1000) || ' ' : ' '}
			</Text>
			<Text wrap="truncate-end" dimColor>
				{hints}
			</Text>
		</Box>
	);
}
