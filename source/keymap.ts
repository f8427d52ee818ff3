import type {Key} from 'ink';

export const screenIds = ['overview'] as const;
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

const screenKeys: Command[] = screenIds.map((id, i) => ({
	id: `screen.${id}`,
	keys: [String(i + 1)],
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

	{id: 'help.close', keys: ['escape', '?', 'q'], description: 'close help', scope: 'help'},
	{id: 'help.up', keys: ['up'], description: 'scroll help up', scope: 'help'},
	{id: 'help.down', keys: ['down'], description: 'scroll help down', scope: 'help'},

	{id: 'dialog.confirm', keys: ['y', 'enter'], description: 'confirm', scope: 'dialog'},
	{id: 'dialog.cancel', keys: ['n', 'escape'], description: 'cancel', scope: 'dialog'},
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
	return commands.filter(c => c.scope === scope && !(readOnly && c.dangerous));
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
