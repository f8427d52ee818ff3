import {spawn} from 'node:child_process';
import {cliPath} from '../../scripts/terminal.js';

/** stderr without the progress lines, and those lines; the time since the start in brackets, then the phase. */
export type CliResult = {code: number | null; stdout: string; stderr: string; progress: string[]};

/** A headless command's phase line without a terminal: `[  1.6s] dumping: …`. */
export const progressLine = /^\[ *\d[\dmsh.]*\] \S.*$/;

/** Progress lines apart from the rest of stderr (errors, notes), which tests read as before. */
export function splitProgress(stderr: string): {stderr: string; progress: string[]} {
	const lines = stderr.split('\n');
	return {stderr: lines.filter(l => !progressLine.test(l)).join('\n'), progress: lines.filter(l => progressLine.test(l))};
}

/**
 * The built CLI as a user runs it, with a clean environment: nothing from
 * the developer's DATABASE_URL or PG* variables leaks in.
 */
export function runCli(args: string[], options: {env?: NodeJS.ProcessEnv; timeout?: number; input?: string} = {}): Promise<CliResult> {
	return new Promise((resolve, reject) => {
		const child = spawn(process.execPath, [cliPath, ...args], {
			env: {PATH: process.env.PATH, HOME: process.env.HOME, INTOWORK_DB_STATE: process.env.INTOWORK_DB_STATE, INTOWORK_DB_CACHE: process.env.INTOWORK_DB_CACHE, ...options.env},
			stdio: ['pipe', 'pipe', 'pipe'],
		});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', d => (stdout += d));
		child.stderr.on('data', d => (stderr += d));
		const timer = setTimeout(() => child.kill('SIGKILL'), options.timeout ?? 60_000);
		child.on('error', reject);
		child.on('close', code => {
			clearTimeout(timer);
			resolve({code, stdout, ...splitProgress(stderr)});
		});
		child.stdin.end(options.input ?? '');
	});
}
