import {escapeControls} from '../sanitize.js';

/**
 * The one way headless output (results, notes, progress, the fatal line)
 * reaches a terminal or a pipe. Role, database and host names, query texts
 * and server messages are in it, so every line is written with its controls
 * escaped.
 */
export function printer(stream: NodeJS.WritableStream): (line: string) => void {
	return line => void stream.write(`${escapeControls(line)}\n`);
}
