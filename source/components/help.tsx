import React, {useState} from 'react';
import {useAppState, useCommands, useServices} from '../context.js';
import {privilegeFixes} from '../db/capabilities.js';
import {activeCommands, commands, keyLabel, type Scope} from '../keymap.js';
import {screens, screenOrder} from '../screens/registry.js';
import {privilegeSummary} from './header.js';
import {TextView} from './text-view.js';
import {useContentRows} from '../hooks/use-frame-rows.js';

function scopeTitle(scope: Scope): string {
	if (scope === 'global') return 'Everywhere';
	if (scope === 'dialog') return 'Confirmation dialogs';
	if (scope === 'help') return 'This help';
	return `${screens[scope].title} screen`;
}

/** Built from the keymap, so it lists exactly the keys that work in this session. */
export function helpLines(readOnly: boolean): string[] {
	const scopes: Scope[] = ['global', ...screenOrder, 'dialog'];
	const lines: string[] = [];
	for (const scope of scopes) {
		const cmds = activeCommands(scope, readOnly);
		if (cmds.length === 0) continue;
		lines.push(`## ${scopeTitle(scope)}`);
		for (const c of cmds) lines.push(`  ${c.keys.map(keyLabel).join(', ').padEnd(16)} ${c.description}${c.dangerous ? '  (confirmed)' : ''}`);
	}
	const hidden = commands.filter(c => c.dangerous).length;
	if (readOnly && hidden) lines.push('', `Read-only mode: ${hidden} commands that change the server or the disk are not bound.`);
	return lines;
}

export function HelpOverlay() {
	const {store} = useServices();
	const s = useAppState(st => ({
		readOnly: st.readOnly,
		target: st.target,
		demoDsn: st.demoDsn,
		caps: st.caps,
	}));
	// the heading takes one line of the content area
	const height = useContentRows() - 1;
	// Local to this opening: the help opens at its top every time.
	const [scroll, setScroll] = useState(0);
	const about: string[] = [`Target: ${s.target}`];
	// on a line of its own, so a narrow terminal does not truncate what is meant to be pasted
	if (s.demoDsn) about.push('Demo database, for psql in another terminal:', `  psql "${s.demoDsn}"`);
	if (s.caps) {
		about.push(`Server PostgreSQL ${s.caps.serverVersion}, role ${s.caps.role} (${privilegeSummary(s.caps)})`);
		about.push(...privilegeFixes(s.caps).map(f => `  to see everything: ${f}`));
		if (s.caps.statements.fix) about.push(`  pg_stat_statements ${s.caps.statements.state}: ${s.caps.statements.fix}`);
	}
	const lines = [...about, '', ...helpLines(s.readOnly)];
	useCommands({'help.close': () => store.setState({overlay: undefined})});
	return (
		<TextView
			title="Help"
			lines={lines.map(line => (line.startsWith('## ') ? {text: line.slice(3), bold: true} : line))}
			height={height}
			scroll={scroll}
			onScroll={setScroll}
			back
			commands="help"
		/>
	);
}
