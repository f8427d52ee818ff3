import ora, {type Ora} from 'ora';
import {formatDuration} from '../format.js';
import {sanitize} from '../sanitize.js';

/**
 * What a headless command is doing, on stderr so that stdout stays the result.
 * On a terminal: a spinner line (ora) redrawn in place, each finished phase kept as a ✔ line.
 * Without one (cron, a pipe, a file): one plain line per phase with the time since the start,
 * and no escape codes.
 */
export type PhaseProgress = {
	/** the current phase and a line about it; only a new phase makes a new line */
	show(phase: string, text: string): void;
	/** takes the spinner off the terminal before result lines are printed; the next show starts afresh */
	clear(): void;
};

export function phaseProgress(stream: NodeJS.WriteStream = process.stderr, clock: () => number = Date.now): PhaseProgress {
	const started = clock();
	let phase: string | undefined;
	// TERM=dumb cannot redraw a line; CI does not matter here: a terminal is a terminal.
	if (!stream.isTTY || process.env.TERM === 'dumb') {
		return {
			show(name, text) {
				if (name === phase) return;
				phase = name;
				stream.write(`[${formatDuration(clock() - started).padStart(6)}] ${sanitize(text, 400)}\n`);
			},
			clear() {
				phase = undefined;
			},
		};
	}
	let spinner: Ora | undefined;
	let last = '';
	return {
		show(name, text) {
			const line = sanitize(text, Math.max(20, (stream.columns || 80) - 3));
			if (spinner && name === phase) {
				spinner.text = line;
			} else {
				spinner?.succeed(last);
				// discardStdin off: raw mode would turn Ctrl-C into a key instead of the SIGINT that cancels the command
				spinner = ora({stream, text: line, isEnabled: true, discardStdin: false}).start();
			}
			phase = name;
			last = line;
		},
		clear() {
			spinner?.stop();
			spinner = undefined;
			phase = undefined;
		},
	};
}
