import {UsageError} from './errors.js';

const units: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000};

/** `2` (seconds), `500ms`, `2s`, `5m`, `1h`, `7d`; anything else is a usage error naming the flag. */
export function parseDuration(raw: unknown, flag: string, defaultUnit: keyof typeof units = 's'): number {
	const text = String(raw).trim();
	if (/^-\s*\d/.test(text)) throw new UsageError(`--${flag}: "${text}" must be greater than zero`);
	const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text);
	if (!m) throw new UsageError(`--${flag}: "${text}" is not a duration (examples: 2, 500ms, 30s, 5m)`);
	const ms = Number(m[1]) * units[m[2] ?? defaultUnit]!;
	if (!(ms > 0)) throw new UsageError(`--${flag}: must be greater than zero`);
	return ms;
}

export function parsePositiveInt(raw: unknown, flag: string): number {
	const text = String(raw).trim();
	if (!/^\d+$/.test(text) || Number(text) < 1) throw new UsageError(`--${flag}: "${text}" is not a whole number of 1 or more`);
	return Number(text);
}
