import {execFileSync, spawnSync} from 'node:child_process';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

/** The built CLI (dist/cli.js), as the bin runs it. */
export const cliPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'cli.js');

function tmux(...args: string[]): string {
	return execFileSync('tmux', args, {encoding: 'utf8'});
}

export type Terminal = {
	name: string;
	/** keys as tmux send-keys names them: 'q', 'Enter', 'Escape', 'Down', 'C-c', 'Tab' */
	send(...keys: string[]): void;
	/** literal text, not key names */
	type(text: string): void;
	/** the visible screen as text (with ANSI styles when ansi is true) */
	capture(ansi?: boolean): string;
	waitFor(match: RegExp, timeoutMs?: number): Promise<string>;
	alive(): boolean;
	kill(): void;
};

let counter = 0;

export type TerminalOptions = {columns?: number; rows?: number; env?: Record<string, string>; name?: string; record?: string};

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
	const start = options.record ? `tmux wait-for ${name}-ready; ` : '';
	const command = `${start}env ${env} ${argv.map(a => JSON.stringify(a)).join(' ')}; echo "[exit $?]"; sleep 600`;
	tmux('new-session', '-d', '-s', name, '-x', String(options.columns ?? 120), '-y', String(options.rows ?? 40), command);
	// the session must keep its size even when no client is attached
	spawnSync('tmux', ['set-option', '-t', name, 'window-size', 'manual']);
	if (options.record) {
		tmux('pipe-pane', '-O', '-t', name, `cat > ${JSON.stringify(options.record)}`);
		tmux('wait-for', '-S', `${name}-ready`);
	}
	const capture = (ansi = false) => tmux('capture-pane', '-p', ...(ansi ? ['-e'] : []), '-t', name);
	return {
		name,
		send: (...keys) => void tmux('send-keys', '-t', name, ...keys),
		type: text => void tmux('send-keys', '-t', name, '-l', text),
		capture,
		async waitFor(match, timeoutMs = 20_000) {
			const deadline = Date.now() + timeoutMs;
			let last = '';
			while (Date.now() < deadline) {
				last = capture();
				if (match.test(last)) return last;
				await new Promise(resolve => setTimeout(resolve, 100));
			}
			throw new Error(`terminal never showed ${match}\n--- screen ---\n${last}`);
		},
		alive: () => spawnSync('tmux', ['has-session', '-t', name]).status === 0,
		kill: () => void spawnSync('tmux', ['kill-session', '-t', name]),
	};
}
