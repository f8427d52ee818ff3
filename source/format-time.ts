import {formatDuration} from './format.js';

const pad = (n: number) => String(n).padStart(2, '0');

/** Local date and minute, for events that can be days old (a stats reset, a vacuum). */
export function dateTime(at: number): string {
	const d = new Date(at);
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** '3h12m ago' against `now` (the server's clock where there is one, so client skew does not show); '-' for never. */
export function ago(at: number | null | undefined, now: number): string {
	if (at === null || at === undefined) return '-';
	return `${formatDuration(now - at)} ago`;
}
