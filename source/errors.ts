// Distinct codes per cause so scripts (CI smoke checks, cron backups) can
// branch on "server down" versus "wrong password" without parsing text.
export const ExitCode = {
	ok: 0,
	failed: 1,
	usage: 2,
	unreachable: 3,
	auth: 4,
	noDatabase: 5,
	ssl: 6,
	internal: 70, // EX_SOFTWARE from sysexits.h
} as const;

export class UsageError extends Error {
	readonly exitCode: number = ExitCode.usage;

	constructor(message: string) {
		super(message);
		this.name = 'UsageError';
	}
}

export class CliError extends Error {
	constructor(
		message: string,
		public exitCode: number,
	) {
		super(message);
		this.name = 'CliError';
	}
}

/** An action that did not do what it was asked: exit code 1. */
export function failed(message: string): CliError {
	return new CliError(message, ExitCode.failed);
}

export class Cancelled extends CliError {
	constructor(message: string) {
		super(message, ExitCode.failed);
		this.name = 'Cancelled';
	}
}

/** The text of anything thrown: an Error's message, else the value as a string. */
export function errorText(error: unknown): string {
	return error instanceof Error ? error.message : String(error);
}

export type ErrorShape = {message: string; code?: string; errors?: unknown[]};

export function shapeOf(err: unknown): ErrorShape {
	if (err && typeof err === 'object') {
		const e = err as {message?: unknown; code?: unknown; errors?: unknown};
		return {
			message: typeof e.message === 'string' ? e.message : safeString(err),
			code: typeof e.code === 'string' ? e.code : undefined,
			errors: Array.isArray(e.errors) ? e.errors : undefined,
		};
	}
	return {message: safeString(err)};
}

function safeString(v: unknown): string {
	try {
		return String(v);
	} catch {
		return 'unknown error';
	}
}

// Node 20 connects with happy eyeballs (autoSelectFamily); when every address
// fails it throws an AggregateError whose own message is empty and whose real
// causes sit in `.errors`, so look there too.
export function codesOf(e: ErrorShape): string[] {
	const codes: string[] = [];
	if (e.code) codes.push(e.code);
	for (const inner of e.errors ?? []) {
		const c = shapeOf(inner).code;
		if (c) codes.push(c);
	}
	return codes;
}

export function messageOf(e: ErrorShape): string {
	if (e.message.trim() !== '') return e.message;
	for (const inner of e.errors ?? []) {
		const m = shapeOf(inner).message;
		if (m.trim() !== '') return m;
	}
	return e.code ?? 'unknown error';
}
