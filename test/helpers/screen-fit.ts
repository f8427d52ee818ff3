import assert from 'node:assert/strict';
import stringWidth from 'string-width';
import {footerHints} from '../../source/components/footer.js';
import {activeCommands, screenKey, type ScreenId, type Scope} from '../../source/keymap.js';
import {screens} from '../../source/screens/registry.js';

// What every screen of the console in tmux must show at any size (80x24 over SSH, 200x50 wide):
// the frame where it belongs, no number cut short, the footer, and the screen's verdict lines.

/** The footer's key hints for a scope, as the keymap gives them: the global ones (q quit, ? help) always whole. */
function hints(scope: Scope, readOnly: boolean, columns: number): string {
	const global = scope === 'help' || scope === 'dialog' ? [] : activeCommands('global', readOnly);
	return footerHints(activeCommands(scope, readOnly), global, columns);
}

/**
 * What each screen must show at any size, however small: its verdict or pre-flight lines
 * (a screen's reason to exist during an incident), not pushed off by a list. Each with the verdict
 * the state every caller checks in makes certain: a fresh demo, no backup taken, the plan not applied,
 * its duplicates in place and its idle-in-transaction sessions open.
 */
export const verdicts: Partial<Record<ScreenId, RegExp[]>> = {
	overview: [/^Connections\s+\S/m, /^Cache hit ratio\s+\S/m, /^Migration\s+at g7b1c5d4e3f2, h8c2d6e5f4g3 not applied/m],
	connections: [/^\d+ sessions: \d+ active/m, /^Slots\s+\S/m, /^App pool\s+\S/m],
	cache: [/^Database\s+[\d.]+%/m],
	migration: [/^Pre-flight for an apply: blocked/m, /^! Transactions\s+\d+ open transactions?/m, /^✗ Backup\s+no backup/m, /^✓ Space\s+\S/m, /^✗ Duplicates\s+\d+ duplicate rows/m],
	backups: [/pg_dump 15\.\d+/],
	// the evidence column stays: a verdict has its reason beside it
	checklist: [/^Score \d+\/100/m, /^ +# item +verdict .*\bevidence\b/m, /^[› ] +1 Migration h8c2d6e5f4g3 applied\s+FAIL +\S/m],
	// where WAL stands, and each replica's lag against its limit
	replication: [/^Primary at /m, /^Replicas \(--replica\): \d+/m, /^ {2}lag \S+ \(max \S+\)/m],
	// the demo's pool (20) is larger than its workload
	pgbouncer: [/^no client waiting/m],
};

/**
 * Each sorted list's header with its sort column marked (the demo's default sort), at any width:
 * the sort key is the one column never dropped. The cursor column (2, or 3 with marks) comes first.
 */
export const sortMarks: Partial<Record<ScreenId, RegExp[]>> = {
	connections: [/^ {3}\s*pid .*\bxact age↓ /m],
	statements: [/^ {3}\s*ms\/s↓ /m],
	cache: [/^ {2}table +reads↓ /m],
	tables: [/^ {2}table +total↓ /m],
	backups: [/^ {2}File +Size Started↓ /m],
	activity: [/^ {2}time↓ +action /m],
	replication: [/^application↑ /m],
};
/** The Tables screen's index list (i), by its default sort: the problems first, in the state column. */
export const indexSortMark = /^ {2}state↓ +index /m;

export type Layout = {columns: number; rows: number; screen: ScreenId; scope: Scope; readOnly?: boolean};

/** Nothing wrapped or drawn over: header, tabs, rule and footer where they belong, no line wider than the terminal, no number cut, the verdicts shown. */
export function assertFits(screen: string, layout: Layout) {
	const {columns, rows, scope} = layout;
	const label = `${scope} at ${columns}x${rows}`;
	const lines = screen.split('\n');
	for (const [i, line] of lines.entries()) assert.ok(stringWidth(line) <= columns, `${label}: line ${i} is ${stringWidth(line)} columns wide: ${line}`);
	assert.match(lines[0] ?? '', /^intowork-db postgres:\*\*\*@127\.0\.0\.1:\d+\/intowork {2}PG 15\.\d+ {2}up /, `${label}: header on the first line\n${screen}`);
	assert.match(lines[1] ?? '', /^● live every /, `${label}: state on the second line\n${screen}`);
	// the job strip, while a job runs or has just ended, is the line under the header and pushes the tabs down one
	const strip = /^[▸✓✗…] /.test(lines[2] ?? '') ? 1 : 0;
	const tab = `${screenKey(layout.screen)} ${screens[layout.screen].title}`;
	assert.ok((lines[2 + strip] ?? '').includes(tab), `${label}: the tabs on line ${3 + strip} name the screen (${tab})\n${screen}`);
	assert.equal(lines[3 + strip], '─'.repeat(columns), `${label}: the rule is the terminal's width\n${screen}`);
	assert.equal(lines.filter(l => l.startsWith('intowork-db ')).length, 1, `${label}: one header\n${screen}`);
	// A number is never cut: a column too narrow for it is dropped instead.
	assert.doesNotMatch(screen, /\d…/, `${label}: a number cut short\n${screen}`);
	// The frame is one line short of the terminal: the key hints are on the line before the last, cut with … when too long.
	const expected = hints(scope, layout.readOnly ?? false, columns);
	const footer = lines[rows - 2] ?? '';
	const shown = stringWidth(expected) > columns ? `${[...expected].slice(0, columns - 1).join('')}…` : expected;
	assert.equal(footer.trimEnd(), shown.trimEnd(), `${label}: the key hints on line ${rows - 1}\n${screen}`);
	assert.equal((lines[rows - 1] ?? '').trim(), '', `${label}: the last line is left empty\n${screen}`);
	if (scope !== 'help' && scope !== 'dialog') assert.match(footer, /q quit {2}\? help/, `${label}: q quit in the footer\n${screen}`);
	if (scope === layout.screen) for (const v of verdicts[layout.screen] ?? []) assert.match(screen, v, `${label}: the verdict line ${v}\n${screen}`);
}
