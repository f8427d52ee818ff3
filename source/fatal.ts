import {CliError, ExitCode, UsageError, messageOf, shapeOf} from './errors.js';
import {redactDsn} from './db/dsn.js';
import {sanitize} from './sanitize.js';

/** The one line (and exit code) a command prints when it fails: no stack trace, no secret. */
export function formatFatal(err: unknown): {line: string; exitCode: number} {
	if (err instanceof UsageError) {
		return {line: oneLine(err.message), exitCode: ExitCode.usage};
	}
	if (err instanceof CliError) {
		return {line: oneLine(err.message), exitCode: err.exitCode};
	}
	const message = messageOf(shapeOf(err));
	return {line: oneLine(`intowork-db: internal error: ${message}`), exitCode: ExitCode.internal};
}

function oneLine(s: string): string {
	return sanitize(redactDsn(s), 2000);
}
