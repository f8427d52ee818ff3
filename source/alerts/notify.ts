import {spawn} from 'node:child_process';
import type {AlertEvent} from './rules.js';
import {sanitize} from '../sanitize.js';

/** The JSON an --on-alert command reads on stdin, and `watch --json` prints a line of. */
export function alertJson(e: AlertEvent): Record<string, unknown> {
	const a = e.alert;
	return {
		event: e.event,
		at: new Date(e.at).toISOString(),
		since: new Date(a.since).toISOString(),
		key: a.key,
		target: a.target,
		kind: a.kind,
		text: a.text,
		...(a.value !== undefined && {value: a.value}),
		...(a.threshold !== undefined && {threshold: a.threshold}),
	};
}

/** One line for a person: `14:02:11 START replica-1 lag 34s (> 10s)`. */
export function alertLine(e: AlertEvent): string {
	const a = e.alert;
	const time = new Date(e.at).toISOString().replace('T', ' ').slice(0, 19);
	const lasted = e.event === 'stop' ? ` (fired for ${Math.round((e.at - a.since) / 1000)} s)` : '';
	return `${time} ${e.event === 'start' ? 'START' : 'STOP '} ${sanitize(a.target, 60)} ${sanitize(a.text, 400)}${lasted}`;
}

/**
 * Runs the operator's command with the alert on stdin; its output and exit
 * status are reported back, never written over the console's screen.
 */
export function runOnAlert(command: string, e: AlertEvent, report: (line: string) => void): void {
	const child = spawn('sh', ['-c', command], {stdio: ['pipe', 'ignore', 'pipe']});
	let stderr = '';
	child.stderr.on('data', d => (stderr += String(d)));
	child.on('error', error => report(`--on-alert: ${error.message}`));
	child.on('close', code => {
		if (code !== 0) report(`--on-alert exited with ${code}${stderr ? `: ${sanitize(stderr.trim().split('\n').pop(), 200)}` : ''}`);
	});
	child.stdin.on('error', () => undefined);
	child.stdin.end(`${JSON.stringify(alertJson(e))}\n`);
}
