import {sanitizeLine} from './sanitize.js';
import stringWidth from './text-width.js';

export const pad2 = (n: number) => String(n).padStart(2, '0');

const printableAscii = /^[\x20-\x7e]*$/;

/**
 * Where a cut would split a word with digits in it ('p95 17.4ms', 'g7b1c5d4e3f2'), the word goes
 * whole: '17…' would read as a number that is wrong, not one that is cut. So does a whole one that
 * would stand before the '…' ('$2…', '2026-12-01…'): it reads the same.
 */
function cleanCut(kept: string): string {
	// '18:…', '3.…' and '0.00m…' (of 0.00ms) read as cut numbers too: the last word has a digit in it
	if (!/\d[\w.,:%+$-]*$/.test(kept)) return kept;
	const trimmed = kept.replace(/[\w.,:%+$-]*$/, '');
	return trimmed.trim() ? trimmed : kept.replace(/\d[\w.,:%+$-]*$/, '');
}

/** Cut to a display width with an ellipsis, then pad; wide characters count double. */
export function fit(text: string, width: number, align: 'left' | 'right' = 'left'): string {
	if (width <= 0) return '';
	// Most cells are plain ASCII: one column per character, no width tables needed on the hot path.
	if (printableAscii.test(text)) {
		const cut = text.length > width ? `${cleanCut(text.slice(0, width - 1))}…` : text;
		const pad = ' '.repeat(Math.max(0, width - cut.length));
		return align === 'right' ? pad + cut : cut + pad;
	}
	// Every cell and padded field passes here: whatever a caller forgot, no control reaches the terminal.
	// Read past the width, so that the cut below is this function's (clean), not sanitizeLine's ('17:46:35…').
	let out = sanitizeLine(text, 2 * width + 2);
	if (stringWidth(out) > width) {
		// code points, not UTF-16 units, so a surrogate pair is never split
		const chars = [...out];
		let w = 0;
		let i = 0;
		for (; i < chars.length; i++) {
			const cw = stringWidth(chars[i]!);
			if (w + cw > width - 1) break;
			w += cw;
		}
		out = `${cleanCut(chars.slice(0, i).join(''))}…`;
	}
	const pad = ' '.repeat(Math.max(0, width - stringWidth(out)));
	return align === 'right' ? pad + out : out + pad;
}

/** Separators an identifier's shared prefix is cut back to: `intowork-` of `intowork-reports`. */
const prefixEnd = /[-_.:/ ]/;

/** The prefix every value starts with, up to and including its last separator; '' when there is none worth dropping. */
export function sharedPrefix(values: readonly string[]): string {
	// one name on every row (a filter on the database): there is nothing to tell apart, so no prefix to drop ('…_0')
	const distinct = [...new Set(values)];
	if (distinct.length < 2) return '';
	let prefix = distinct[0]!;
	for (const v of distinct) {
		let i = 0;
		while (i < prefix.length && i < v.length && prefix[i] === v[i]) i++;
		prefix = prefix.slice(0, i);
		if (!prefix) return '';
	}
	let end = prefix.length - 1;
	while (end >= 0 && !prefixEnd.test(prefix[end]!)) end--;
	return end >= 2 ? prefix.slice(0, end + 1) : '';
}

/**
 * An identifier in `width` columns that keeps what tells it apart: whole when it fits, else
 * without the prefix the column's rows share (`…-reports`), else cut in the middle (`intow…ports`).
 */
export function fitIdent(text: string, width: number, prefix = ''): string {
	if (width <= 0) return '';
	if (stringWidth(text) <= width) return fit(text, width);
	if (prefix && text.startsWith(prefix) && text.length > prefix.length) {
		// the separator stays: '…-admin' reads as a suffix
		const rest = `…${text.slice(prefix.length - 1)}`;
		if (stringWidth(rest) <= width) return fit(rest, width);
	}
	if (width < 3) return fit(text, width);
	const chars = [...text];
	const headWidth = Math.floor((width - 1) / 2);
	let head = '';
	let w = 0;
	for (const ch of chars) {
		const cw = stringWidth(ch);
		if (w + cw > headWidth) break;
		head += ch;
		w += cw;
	}
	// the head never ends in a digit: '…' after it would read as a number cut short
	const bare = head.replace(/[\d.,:]+$/, '');
	w -= stringWidth(head) - stringWidth(bare);
	head = bare;
	let tail = '';
	let tw = 0;
	for (let i = chars.length - 1; i >= 0; i--) {
		const cw = stringWidth(chars[i]!);
		if (w + 1 + tw + cw > width) break;
		tail = chars[i]! + tail;
		tw += cw;
	}
	return fit(`${head}…${tail}`, width);
}

export function formatDuration(ms: number | null | undefined): string {
	if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
	if (ms < 0) ms = 0;
	if (ms < 1000) return `${Math.round(ms)}ms`;
	const s = ms / 1000;
	if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)}s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;
	const h = Math.floor(m / 60);
	if (h < 48) return `${h}h${String(m % 60).padStart(2, '0')}m`;
	return `${Math.floor(h / 24)}d${String(h % 24).padStart(2, '0')}h`;
}

export function formatBytes(n: number | null | undefined): string {
	if (n === null || n === undefined || !Number.isFinite(n)) return '-';
	const units = ['B', 'kB', 'MB', 'GB', 'TB'];
	let v = n;
	let u = 0;
	while (Math.abs(v) >= 1024 && u < units.length - 1) {
		v /= 1024;
		u++;
	}
	return `${v.toFixed(u === 0 || v >= 100 ? 0 : 1)} ${units[u]}`;
}

export function formatPercent(ratio: number | null | undefined, digits = 1): string {
	if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '-';
	return `${(ratio * 100).toFixed(digits)}%`;
}

export function formatNumber(n: number | null | undefined): string {
	if (n === null || n === undefined || !Number.isFinite(n)) return '-';
	return Math.round(n).toLocaleString('en-US');
}

export function formatMs(ms: number | null | undefined): string {
	if (ms === null || ms === undefined || !Number.isFinite(ms)) return '-';
	if (ms < 10) return `${ms.toFixed(2)}ms`;
	if (ms < 1000) return `${ms.toFixed(1)}ms`;
	return formatDuration(ms);
}

/** Wall-clock time as HH:MM:SS, for 'stale since' and the audit view. */
export function clock(at: number | Date): string {
	const d = new Date(at);
	return [d.getHours(), d.getMinutes(), d.getSeconds()].map(pad2).join(':');
}


/** Local date and minute, for events that can be days old (a stats reset, a vacuum). */
export function dateTime(at: number): string {
	const d = new Date(at);
	return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
}

/** '3h12m ago' against `now` (the server's clock where there is one, so client skew does not show); '-' for never. */
export function ago(at: number | null | undefined, now: number): string {
	if (at === null || at === undefined) return '-';
	return `${formatDuration(now - at)} ago`;
}
