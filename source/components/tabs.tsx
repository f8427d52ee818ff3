import React from 'react';
import {Text} from 'ink';
import {useAppState} from '../context.js';
import {screens, screenOrder} from '../screens/registry.js';
import {screenKey} from '../keymap.js';

export function Tabs() {
	const {current, width} = useAppState(s => ({current: s.screen, width: s.size.columns}));
	const full = screenOrder.map(id => `${screenKey(id)} ${screens[id].title}`);
	// Narrow terminals keep the current screen's name and only the numbers of the others.
	const compact = full.join('  ').length > width;
	return (
		<Text wrap="truncate-end">
			{screenOrder.map((id, i) => {
				const active = id === current;
				const label = active || !compact ? full[i] : screenKey(id);
				return (
					<Text key={id} inverse={active} bold={active}>
						{` ${label} `}
					</Text>
				);
			})}
		</Text>
	);
}

export function Rule() {
	const width = useAppState(s => s.size.columns);
	return <Text dimColor>{'─'.repeat(Math.max(0, width))}</Text>;
}
