import type {Key} from 'ink';
import {readOnlyRefusal} from './read-only.js';

export const screenIds = ['overview', 'connections', 'statements', 'cache', 'tables', 'migration', 'backups', 'checklist', 'activity', 'replication', 'pgbouncer'] as const;
export type ScreenId = (typeof screenIds)[number];

/** Overlays take every key while open; screens add to the global scope. */
export type Scope = 'global' | ScreenId | 'help' | 'dialog';

export type Command = {
	id: string;
	/** key names as produced by keyName() */
	keys: readonly string[];
	description: string;
	scope: Scope;
	/** changes the server or the disk: confirmed, and not bound at all under --read-only */
	dangerous?: boolean;
	/** shown in the footer (the help screen shows everything) */
	hint?: string;
};

/** The number keys, then 0, then B for the eleventh screen (Tab reaches every screen). */
const screenKeyList = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', 'B'];

export function screenKey(id: ScreenId): string {
	return screenKeyList[screenIds.indexOf(id)] ?? '';
}

const screenKeys: Command[] = screenIds.map(id => ({
	id: `screen.${id}`,
	keys: screenKey(id) ? [screenKey(id)] : [],
	description: `show the ${id} screen`,
	scope: 'global',
}));

/**
 * The one keymap: input dispatch, footer hints and the help screen all read
 * it, so a key cannot work without being documented or be documented without
 * working.
 */
export const commands: readonly Command[] = [
	{id: 'quit', keys: ['q', 'ctrl+c'], description: 'quit and restore the terminal', scope: 'global', hint: 'quit'},
	{id: 'help', keys: ['?'], description: 'show every key, the target and the privileges', scope: 'global', hint: 'help'},
	{id: 'screen.next', keys: ['tab'], description: 'next screen', scope: 'global'},
	{id: 'screen.prev', keys: ['shift+tab'], description: 'previous screen', scope: 'global'},
	...screenKeys,
	{id: 'refresh.pause', keys: ['p'], description: 'pause or resume refreshing', scope: 'global', hint: 'pause'},
	{id: 'refresh.faster', keys: ['+', '='], description: 'refresh more often (halve the interval)', scope: 'global'},
	{id: 'refresh.slower', keys: ['-'], description: 'refresh less often (double the interval)', scope: 'global'},
	{id: 'refresh.now', keys: ['ctrl+r'], description: 'refresh now', scope: 'global'},
	{id: 'cursor.up', keys: ['up'], description: 'move the selection up', scope: 'global'},
	{id: 'cursor.down', keys: ['down'], description: 'move the selection down', scope: 'global'},
	{id: 'cursor.pageUp', keys: ['pageup'], description: 'one page up', scope: 'global'},
	{id: 'cursor.pageDown', keys: ['pagedown'], description: 'one page down', scope: 'global'},
	{id: 'cursor.first', keys: ['home', 'g'], description: 'first row', scope: 'global'},
	{id: 'cursor.last', keys: ['end', 'G'], description: 'last row', scope: 'global'},
	{id: 'details', keys: ['enter'], description: 'details of the selected row', scope: 'global'},
	{id: 'back', keys: ['escape'], description: 'close details or clear the filter', scope: 'global'},

	{id: 'backups.backup', keys: ['b'], description: 'back up now: pg_dump in an exported snapshot, every table counted in it', scope: 'backups', dangerous: true, hint: 'backup'},
	{id: 'backups.restoreTest', keys: ['r'], description: 'restore-test the selected backup in a scratch database', scope: 'backups', dangerous: true, hint: 'restore test'},
	{id: 'backups.restore', keys: ['R'], description: 'restore the selected backup into a new database you name (never the source, never an existing one)', scope: 'backups', dangerous: true, hint: 'restore'},
	{id: 'backups.format', keys: ['f'], description: 'switch the backup format: custom, or plain SQL gzipped', scope: 'backups', hint: 'format'},
	{id: 'backups.cancel', keys: ['x'], description: 'cancel the running backup, restore test or restore', scope: 'backups', hint: 'cancel'},

	{id: 'connections.filter', keys: ['/'], description: 'filter sessions: a regex over user, application, database and query', scope: 'connections', hint: 'filter'},
	{id: 'connections.sort', keys: ['s'], description: 'sort by the next column (transaction age, query age, pid, user, ...)', scope: 'connections', hint: 'sort'},
	{id: 'connections.reverse', keys: ['S'], description: 'reverse the sort', scope: 'connections'},
	{id: 'connections.view', keys: ['v'], description: 'switch view: sessions, groups by database/user and application, lock tree', scope: 'connections', hint: 'view'},
	{id: 'connections.tag', keys: ['space'], description: 'tag or untag the selected session (c and k then act on every tagged one)', scope: 'connections', hint: 'tag'},
	{id: 'connections.workers', keys: ['w'], description: 'show or fold the parallel workers of the selected leader (listed under it, counted in its query column)', scope: 'connections'},
	{id: 'connections.tagHanging', keys: ['H'], description: 'tag every hanging session the filter shows', scope: 'connections', hint: 'tag hanging'},
	{id: 'connections.cancel', keys: ['c'], description: "cancel the selected or tagged sessions' queries (pg_cancel_backend)", scope: 'connections', dangerous: true, hint: 'cancel'},
	{id: 'connections.terminate', keys: ['k'], description: 'terminate the selected or tagged sessions (pg_terminate_backend)', scope: 'connections', dangerous: true, hint: 'kill'},

	{id: 'statements.mode', keys: ['m'], description: 'switch between this interval (rates) and totals since the stats reset', scope: 'statements', hint: 'interval/totals'},
	{id: 'statements.sort', keys: ['s'], description: 'sort by total time, mean time or calls', scope: 'statements', hint: 'sort'},
	{id: 'statements.filter', keys: ['/'], description: 'filter statements by text, role or query id', scope: 'statements', hint: 'filter'},
	{id: 'statements.reset', keys: ['R'], description: "reset this database's pg_stat_statements statistics (other databases keep theirs)", scope: 'statements', dangerous: true, hint: 'reset stats'},

	{id: 'tables.view', keys: ['i'], description: 'switch between tables and indexes (unused, invalid)', scope: 'tables', hint: 'tables/indexes'},
	{id: 'tables.sort', keys: ['s'], description: 'sort tables by size, dead rows or seq-scanned rows; indexes by problems, size or scans', scope: 'tables', hint: 'sort'},

	{id: 'checklist.recheck', keys: ['r'], description: 'check every item again now, EXPLAIN plans and p95 timings included', scope: 'checklist', hint: 're-check'},
	{id: 'checklist.signoff', keys: ['s'], description: 'sign off the selected manual item (8, 9, 10): who, note', scope: 'checklist', dangerous: true, hint: 'sign off'},
	{id: 'checklist.withdraw', keys: ['u'], description: 'withdraw the sign-off of the selected item', scope: 'checklist', dangerous: true},
	{id: 'checklist.loadtest', keys: ['L'], description: 'run the read-only load test: 100 sessions of app queries for 60 s (Esc stops it)', scope: 'checklist', dangerous: true, hint: 'load test'},

	{id: 'migration.apply', keys: ['m'], description: 'apply the migration: concurrent builds, constraints under a short lock_timeout, then alembic_version', scope: 'migration', dangerous: true, hint: 'apply'},
	{id: 'migration.cancel', keys: ['c'], description: "cancel the running apply or downgrade (pg_cancel_backend of the build's backend), dropping the INVALID index it leaves; or the running archive or undo of duplicates (rolled back)", scope: 'migration', dangerous: true, hint: 'cancel'},
	{id: 'migration.resolve', keys: ['d'], description: 'archive the duplicate rows the unique constraints refuse (one transaction, undoable)', scope: 'migration', dangerous: true, hint: 'archive dups'},
	{id: 'migration.undo', keys: ['u'], description: 'put the last archived duplicates back', scope: 'migration', dangerous: true, hint: 'restore dups'},
	{id: 'migration.downgrade', keys: ['D'], description: 'downgrade: drop what the migration added and restore alembic_version', scope: 'migration', dangerous: true, hint: 'downgrade'},
	{id: 'migration.recheck', keys: ['r'], description: 'count duplicates and check the plan again now', scope: 'migration', hint: 're-check'},

	{id: 'help.close', keys: ['escape', '?', 'q'], description: 'close help', scope: 'help'},
	{id: 'help.up', keys: ['up'], description: 'scroll help up', scope: 'help'},
	{id: 'help.down', keys: ['down'], description: 'scroll help down', scope: 'help'},
	{id: 'help.pageUp', keys: ['pageup'], description: 'one page of help up', scope: 'help'},
	{id: 'help.pageDown', keys: ['pagedown', 'space'], description: 'one page of help down', scope: 'help'},
	{id: 'help.first', keys: ['home', 'g'], description: 'top of help', scope: 'help'},
	{id: 'help.last', keys: ['end', 'G'], description: 'end of help', scope: 'help'},

	{id: 'dialog.confirm', keys: ['y', 'enter'], description: 'confirm', scope: 'dialog'},
	{id: 'dialog.cancel', keys: ['n', 'escape'], description: 'cancel', scope: 'dialog'},
	{id: 'dialog.wait', keys: ['w'], description: 'quit once the running jobs are done (quit question)', scope: 'dialog'},
	{id: 'dialog.keep', keys: ['k'], description: 'leave the server-side work running and quit, where that is safe (quit question)', scope: 'dialog'},
];

export function keyName(input: string, key: Key): string {
	if (key.upArrow) return 'up';
	if (key.downArrow) return 'down';
	if (key.leftArrow) return 'left';
	if (key.rightArrow) return 'right';
	if (key.pageUp) return 'pageup';
	if (key.pageDown) return 'pagedown';
	if (key.home) return 'home';
	if (key.end) return 'end';
	if (key.return) return 'enter';
	if (key.escape) return 'escape';
	if (key.tab) return key.shift ? 'shift+tab' : 'tab';
	if (key.backspace || key.delete) return 'backspace';
	if (key.ctrl && input) return `ctrl+${input.toLowerCase()}`;
	if (input === ' ') return 'space';
	return input;
}

export function activeCommands(scope: Scope, readOnly: boolean): Command[] {
	return commands.filter(c => c.scope === scope && !readOnlyRefusal(readOnly, c.dangerous ? c.description : undefined));
}

/**
 * Overlays own the keyboard; otherwise the screen's own commands come first,
 * then the global ones. Dangerous commands do not exist in read-only mode.
 */
export function resolveCommand(name: string, scopes: readonly Scope[], readOnly: boolean): Command | undefined {
	for (const scope of scopes) {
		const found = activeCommands(scope, readOnly).find(c => c.keys.includes(name));
		if (found) return found;
	}
	return undefined;
}

export function commandById(id: string): Command | undefined {
	return commands.find(c => c.id === id);
}

/** How a key is written in the footer and help. */
export function keyLabel(name: string): string {
	const labels: Record<string, string> = {up: '↑', down: '↓', enter: 'Enter', escape: 'Esc', space: 'Space', tab: 'Tab', 'shift+tab': 'S-Tab', pageup: 'PgUp', pagedown: 'PgDn', home: 'Home', end: 'End'};
	if (labels[name]) return labels[name];
	if (name.startsWith('ctrl+')) return `^${name.slice(5).toUpperCase()}`;
	return name;
}
