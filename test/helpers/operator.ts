import fs from 'node:fs';
import path from 'node:path';
import type {Terminal} from '../../scripts/terminal.js';
import {cacheRoot, freePort} from '../../source/demo/pg-server.js';

// An operator's hands and eyes on the console in tmux: a key, then the screen it leads to.

/** A screen's answer to a key on a busy 2-core machine (not work: jobs pass their own deadline). */
export const screenMs = 25_000;

export const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The session list's selected row (›), then the tag (*) and hanging/lock/own marks, then the pid. */
export const selectedRow = (pid: number, tagged = false) => new RegExp(`›${tagged ? '\\*' : '[* ]'}[!~@ ]\\s*${pid} `);

export const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

/**
 * Waits until every pattern is on the screen at once (and none of `absent`); returns that screen.
 * Only a settled screen counts: tmux can capture a frame half redrawn. On failure: what was
 * missing, how long it waited, and the last screen.
 */
export async function see(term: Terminal, patterns: RegExp[], timeoutMs = screenMs, absent: RegExp[] = []): Promise<string> {
	const started = Date.now();
	for (;;) {
		const screen = term.capture();
		const missing = [...patterns.filter(p => !p.test(screen)), ...absent.filter(p => p.test(screen)).map(p => `no ${p}`)];
		if (missing.length === 0) {
			await sleep(50);
			if (term.capture() === screen) return screen;
			continue;
		}
		const waited = `waited ${((Date.now() - started) / 1000).toFixed(1)} s (deadline ${timeoutMs / 1000} s) for ${missing.join(', ')}`;
		if (/^\[exit \d+\]$/m.test(screen)) throw new Error(`the console exited; ${waited}\n--- screen ---\n${screen}`);
		if (Date.now() - started > timeoutMs) throw new Error(`${waited}\n--- screen ---\n${screen}`);
		await sleep(100);
	}
}

/** A tmux key name, then the screen that key leads to. */
export async function press(term: Terminal, key: string, patterns: RegExp[], timeoutMs = screenMs): Promise<string> {
	term.send(key);
	return see(term, patterns, timeoutMs);
}

/** Opens the Connections filter, types `text` and submits it. */
export async function filter(term: Terminal, text: string): Promise<string> {
	await press(term, '/', [/Filter \(regex over user, application, database, query\):/]);
	term.type(text);
	await see(term, [new RegExp(`Filter \\(regex[^:]*: ${escape(text)}`)]);
	return press(term, 'Enter', [new RegExp(`filter /${escape(text)}/ \\d+ of \\d+`)]);
}

/** Answers an open dialog: y, or the text it asks to be typed ("2", "no backup"). */
export async function confirm(term: Terminal, screen: string): Promise<void> {
	const typed = /Type (.+?) to [^,]*, Esc to cancel: /.exec(screen);
	if (!typed) return void term.send('y');
	term.type(typed[1]!);
	await see(term, [new RegExp(`Type ${escape(typed[1]!)} to [^,]*, Esc to cancel: ${escape(typed[1]!)}`)]);
	term.send('Enter');
}

type DemoEnv = {INTOWORK_DB_CACHE: string; INTOWORK_DB_STATE: string; CI: string};

/**
 * A demo of the test's own for the console in tmux: under the cache root, not os.tmpdir() (as root
 * the demo server runs as postgres, which must traverse it), with its own cache (it seeds from
 * nothing, as on a fresh clone) and state, on a free port, and CI=true as on a CI runner (or an SSH
 * session that inherited it), where Ink would draw nothing but the last frame.
 */
export async function demoPlace(name: string): Promise<{base: string; env: DemoEnv; port: number; dsn: string}> {
	const base = path.join(cacheRoot(), 'test', `${name}-${process.pid}`);
	const env = {INTOWORK_DB_CACHE: path.join(base, 'cache'), INTOWORK_DB_STATE: path.join(base, 'state'), CI: 'true'};
	fs.mkdirSync(base, {recursive: true, mode: 0o755});
	fs.chmodSync(base, 0o755);
	const port = await freePort();
	return {base, env, port, dsn: `postgresql://postgres:postgres@127.0.0.1:${port}/intowork`};
}
