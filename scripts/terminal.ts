import {execFileSync, spawnSync} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

/** The built CLI (dist/cli.js), as the bin runs it. */
export const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');

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
	/** polls the screen until it matches; on failure says what it waited for, how long, and shows the last screen */
	waitFor(match: RegExp, timeoutMs?: number, what?: string): Promise<string>;
	alive(): boolean;
	kill(): void;
};

let counter = 0;

/** The built CLI in a real terminal (a detached tmux session of the given size). */
export function openTerminal(args: string[], options: {columns?: number; rows?: number; env?: Record<string, string>} = {}): Terminal {
	const name = `intowork-test-${process.pid}-${counter++}`;
	const env = Object.entries({TERM: 'xterm-256color', ...options.env})
		.map(([k, v]) => `${k}=${JSON.stringify(v)}`)
		.join(' ');
	const command = `env ${env} ${JSON.stringify(process.execPath)} ${JSON.stringify(cliPath)} ${args.map(a => JSON.stringify(a)).join(' ')}; echo "[exit $?]"; sleep 600`;
	tmux(name, 'new-session', '-d', '-s', name, '-x', String(options.columns ?? 120), '-y', String(options.rows ?? 40), command);
	// the session must keep its size even when no client is attached
	spawnSync('tmux', ['-L', name, 'set-option', '-t', name, 'window-size', 'manual']);
	const capture = (ansi = false) => tmux(name, 'capture-pane', '-p', ...(ansi ? ['-e'] : []), '-t', name);
	return {
		name,
		send: (...keys) => void tmux(name, 'send-keys', '-t', name, ...keys),
		type: text => void tmux(name, 'send-keys', '-t', name, '-l', text),
		capture,
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
		alive: () => spawnSync('tmux', ['-L', name, 'has-session', '-t', name]).status === 0,
		// the server goes with its only session
		kill: () => void spawnSync('tmux', ['-L', name, 'kill-server']),
	};
}
