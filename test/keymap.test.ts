import {test} from 'node:test';
import assert from 'node:assert/strict';
import {activeCommands, commands, resolveCommand, screenIds, screenKey, type Scope} from '../source/keymap.js';
import {screens} from '../source/screens/registry.js';
import {helpLines} from '../source/components/help.js';

const scopes = [...new Set(commands.map(c => c.scope))];

test('every command is described and has a key', () => {
	for (const c of commands) {
		assert.ok(c.description.trim().length >= 4, `${c.id} has no description`);
		assert.ok(c.keys.length > 0, `${c.id} has no key`);
	}
	assert.equal(new Set(commands.map(c => c.id)).size, commands.length, 'command ids are unique');
});

test('no key is bound twice in one scope', () => {
	for (const scope of scopes) {
		const seen = new Map<string, string>();
		for (const c of commands.filter(x => x.scope === scope)) {
			for (const k of c.keys) {
				assert.ok(!seen.has(k), `${scope}: ${k} is bound to ${seen.get(k)} and ${c.id}`);
				seen.set(k, c.id);
			}
		}
	}
});

test('a screen key never shadows a global key', () => {
	const global = new Set(commands.filter(c => c.scope === 'global').flatMap(c => c.keys));
	for (const c of commands.filter(x => screenIds.includes(x.scope as never))) {
		for (const k of c.keys) assert.ok(!global.has(k), `${c.scope}: ${k} of ${c.id} shadows a global key`);
	}
});

test('every screen is registered and has a key: 1-9, then 0 and B', () => {
	const expected = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', 'B'];
	screenIds.forEach((id, i) => {
		assert.ok(screens[id], `${id} is not in the registry`);
		assert.equal(screenKey(id), expected[i]);
		assert.equal(resolveCommand(expected[i]!, ['global'], false)?.id, `screen.${id}`);
	});
});

test('dangerous commands are not bound in read-only mode, and help says so', () => {
	const dangerous = commands.filter(c => c.dangerous);
	for (const c of dangerous) {
		for (const k of c.keys) assert.notEqual(resolveCommand(k, [c.scope as Scope, 'global'], true)?.id, c.id, `${c.id} still bound read-only`);
		assert.equal(resolveCommand(c.keys[0]!, [c.scope as Scope], false)?.id, c.id);
	}
	const help = helpLines(true).join('\n');
	for (const c of dangerous) assert.ok(!activeCommands(c.scope, true).includes(c));
	if (dangerous.length > 0) assert.match(help, /Read-only mode: \d+ commands that change the server or the disk are not bound/);
});

test('overlays own the keyboard: q closes help instead of quitting', () => {
	assert.equal(resolveCommand('q', ['help'], false)?.id, 'help.close');
	assert.equal(resolveCommand('q', ['overview', 'global'], false)?.id, 'quit');
});

test('R on Backups restores into a new database: dangerous, so gone in read-only mode and from its help', () => {
	const restore = commands.find(c => c.id === 'backups.restore');
	assert.equal(restore?.dangerous, true);
	assert.equal(restore?.hint, 'restore');
	assert.equal(resolveCommand('R', ['backups', 'global'], false)?.id, 'backups.restore');
	assert.equal(resolveCommand('R', ['backups', 'global'], true), undefined);
	assert.ok(helpLines(false).some(l => l.includes(restore.description)));
	assert.ok(!helpLines(true).some(l => l.includes(restore.description)));
});
