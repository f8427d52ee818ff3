import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {after, test} from 'node:test';
import {cliPath, openTerminal} from '../scripts/terminal.js';
import {testDatabase} from './helpers/db.js';
import {startStallProxy} from './helpers/stall-proxy.js';

// Headless commands are never silent: `backup --verify` on a terminal (tmux) and piped to a file, against a real server.

const db = await testDatabase();
const state = fs.mkdtempSync(path.join(os.tmpdir(), 'intowork-progress-'));
after(() => fs.rmSync(state, {recursive: true, force: true}));

/** The phases of a verified backup, in order, as their first words say them. */
const phases = ['connecting to the server', 'preparing:', 'dumping:', 'sha256 of', 'checking sha256:', 'creating the database', 'restoring into', 'counting rows in', 'dropping'];

test('backup --verify piped to a file: one plain line per phase with the elapsed time, no escape codes', {timeout: 120_000}, () => {
	const file = path.join(state, 'cron.log');
	const dir = path.join(state, 'piped');
	// as cron runs it: stdout and stderr into one file, no terminal anywhere
	execFileSync('sh', ['-c', `"${process.execPath}" "${cliPath}" backup --verify --dir "${dir}" > "${file}" 2>&1`], {env: {...process.env, DATABASE_URL: db.url, INTOWORK_DB_STATE: state}, timeout: 110_000});
	const text = fs.readFileSync(file, 'utf8');
	assert.doesNotMatch(text, /\u001B/, `no escape codes:\n${text}`);
	assert.doesNotMatch(text, /\r/, `no carriage returns:\n${text}`);
	const phaseLines = text.split('\n').filter(l => l.startsWith('['));
	for (const line of phaseLines) assert.match(line, /^\[ *\d[\d.]*(ms|s|m\d\ds)\] \S/, `a phase line starts with the elapsed time: ${line}`);
	assert.deepEqual(
		phaseLines.map(l => phases.find(p => l.replace(/^\[[^\]]*\] /, '').startsWith(p))),
		phases,
		`every phase once, in order:\n${text}`,
	);
	assert.match(text, /^backup ok: /m);
	assert.match(text, /^restore test passed for /m);
});

test('backup --verify on a terminal: a spinner on stderr before the server has answered, each finished phase kept', {timeout: 120_000}, async t => {
	const proxy = await startStallProxy(db.info.port);
	const url = new URL(db.url);
	url.port = String(proxy.port);
	url.searchParams.set('connect_timeout', '60');
	// a server that does not answer: whatever is on screen came before any reply
	proxy.stall();
	const started = Date.now();
	const term = openTerminal(['backup', '--verify', '--dir', path.join(state, 'tty')], {columns: 120, rows: 40, env: {DATABASE_URL: url.toString(), INTOWORK_DB_STATE: state}});
	try {
		const spinner = /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] connecting to the server$/m;
		await term.waitFor(spinner, 30_000);
		t.diagnostic(`first progress on the terminal ${Date.now() - started} ms after the command was started (node start-up included)`);
		assert.match(term.capture(), spinner, 'still connecting: the server has not answered');
		proxy.resume();
		const screen = await term.waitFor(/\[exit \d+\]/, 110_000);
		assert.match(screen, /\[exit 0\]/, screen);
		for (const p of ['preparing:', 'dumping: 16/16 tables', 'restoring into \\S+: 16/16 tables', 'counting rows in \\S+: 16/16 tables']) {
			assert.match(screen, new RegExp(`^✔ ${p}`, 'm'), `the finished phase ${p} is kept\n${screen}`);
		}
		assert.match(screen, /^backup ok: /m);
		assert.match(screen, /^restore test passed for /m);
		assert.doesNotMatch(screen, /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] /m, 'no spinner left behind');
	} finally {
		term.kill();
		await proxy.close();
	}
});
