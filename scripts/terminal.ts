import fs from 'node:fs';
import {execFileSync, spawnSync} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

/** The built CLI (dist/cli.js), as the bin runs it. */
export const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');

/**
 * The console as its bin starts it: the environment and node flags of its
 * shebang (`#!/usr/bin/env -S VAR=value node --flag`), for a benchmark that
 * starts it with process.execPath and must measure the same process.
 */
export function asInstalled(): {env: Record<string, string>; nodeFlags: string[]} {
	const words = (fs.readFileSync(cliPath, 'utf8').split('\n', 1)[0] ?? '').replace(/^#!\S+(\s+-S)?/, '').trim().split(/\s+/);
	const at = words.indexOf('node');
	return {env: Object.fromEntries(words.slice(0, Math.max(0, at)).map(w => w.split('=', 2) as [string, string])), nodeFlags: words.slice(at + 1)};
}

// Each terminal on a tmux server of its own (-L socket): nothing another test run, or another
// developer, does to the default server (kill-server, a colliding name) reaches it.
function tmux(socket: string, ...args: string[]): string {
	return execFileSync('tmux', ['-L', socket, ...args], {encoding: 'utf8'});
}

export type Terminal = {
	name: string;
	/** keys as tmux send-keys names them: 'q', 'Enter', 'Escape', 'Down', 'C-c', 'Tab' */
	send(...keys: string[]): void;
	/** literal text, not key names */
	type(text: string): void;
	/** the visible screen as text (with ANSI styles when ansi is true) */
	capture(ansi?: boolean): string;
	/** a tmux format of the pane (#{pane_title}, #{pane_pid}), from the terminal's own tmux server */
	display(format: string): string;
	/** polls the screen until it matches; on failure says what it waited for, how long, and shows the last screen */
	waitFor(match: RegExp, timeoutMs?: number, what?: string): Promise<string>;
	/** the window resized, as a terminal emulator's is: the CLI gets SIGWINCH */
	resize(columns: number, rows: number): void;
	alive(): boolean;
	kill(): void;
};

export type TerminalOptions = {columns?: number; rows?: number; env?: Record<string, string>; name?: string; record?: string};

let counter = 0;

/**
 * The built CLI in a real terminal (a detached tmux session of the given size).
 * `record`: a file that receives every byte the CLI writes to the terminal, from its first.
 */
export function openTerminal(args: string[], options: TerminalOptions = {}): Terminal {
	return openCommand([process.execPath, cliPath, ...args], options);
}

/** Any program in a real terminal: the benchmark runs the console's peers the same way. */
export function openCommand(argv: string[], options: TerminalOptions = {}): Terminal {
	const name = `${options.name ?? 'intowork-test'}-${process.pid}-${counter++}`;
	const env = Object.entries({TERM: 'xterm-256color', ...options.env})
		.map(([k, v]) => `${k}=${JSON.stringify(v)}`)
		.join(' ');
	// Recording: the CLI waits until the pipe is in place, so not even its first write is missed.
	const start = options.record ? `tmux -L ${name} wait-for ${name}-ready; ` : '';
	const command = `${start}env ${env} ${argv.map(a => JSON.stringify(a)).join(' ')}; echo "[exit $?]"; sleep 600`;
	tmux(name, 'new-session', '-d', '-s', name, '-x', String(options.columns ?? 120), '-y', String(options.rows ?? 40), command);
	// the session must keep its size even when no client is attached
	spawnSync('tmux', ['-L', name, 'set-option', '-t', name, 'window-size', 'manual']);
	if (options.record) {
		tmux(name, 'pipe-pane', '-O', '-t', name, `cat > ${JSON.stringify(options.record)}`);
		tmux(name, 'wait-for', '-S', `${name}-ready`);
	}
	const capture = (ansi = false) => tmux(name, 'capture-pane', '-p', ...(ansi ? ['-e'] : []), '-t', name);
	return {
		name,
		send: (...keys) => void tmux(name, 'send-keys', '-t', name, ...keys),
		type: text => void tmux(name, 'send-keys', '-t', name, '-l', text),
		capture,
		display: format => tmux(name, 'display-message', '-p', '-t', name, format).trim(),
		async waitFor(match, timeoutMs = 20_000, what = String(match)) {
			const started = Date.now();
			let last = '';
			for (;;) {
				last = capture();
				if (match.test(last)) return last;
				const waited = `waited ${((Date.now() - started) / 1000).toFixed(1)} s (deadline ${timeoutMs / 1000} s) for ${what}`;
				if (/^\[exit \d+\]$/m.test(last)) throw new Error(`the console exited; ${waited}\n--- screen ---\n${last}`);
				if (Date.now() - started > timeoutMs) throw new Error(`${waited}\n--- screen ---\n${last}`);
				await new Promise(resolve => setTimeout(resolve, 100));
			}
		},
		resize: (columns, rows) => void tmux(name, 'resize-window', '-t', name, '-x', String(columns), '-y', String(rows)),
		alive: () => spawnSync('tmux', ['-L', name, 'has-session', '-t', name]).status === 0,
		// the server goes with its only session
		kill: () => void spawnSync('tmux', ['-L', name, 'kill-server']),
	};
}
