// Database strings (query text, application_name, client hostnames, error
// messages) are attacker-controlled: any role that can connect can put
// escape sequences in them that would retitle the terminal, write the
// clipboard (OSC 52), move the cursor over our UI or reorder text with bidi
// controls. Everything shown on screen goes through here.
//
// A hand-written scanner rather than regexes: it stops as soon as it has
// produced enough output, so a 1 MB cell costs the same as a 4 kB one, and it
// cannot backtrack pathologically.

const TEXT = 0;
const SPACE = 1;
const NEWLINE = 2;
const TAB = 3;
const CR = 4;
type Kind = typeof TEXT | typeof SPACE | typeof NEWLINE | typeof TAB | typeof CR;

/** Return false to stop scanning. */
type Sink = (ch: string, kind: Kind) => boolean;

const ESC = 0x1b;
const BEL = 0x07;
const C1_ST = 0x9c;

// Zero-width and bidi characters: invisible, so they can hide or reorder
// text, and terminals disagree on their width, which breaks Ink's layout.
// ZWJ goes too, at the cost of showing emoji sequences as their parts.
function isInvisible(c: number): boolean {
	return (
		(c >= 0x200b && c <= 0x200f) || // ZWSP, ZWNJ, ZWJ, LRM, RLM
		(c >= 0x202a && c <= 0x202e) || // LRE, RLE, PDF, LRO, RLO
		(c >= 0x2060 && c <= 0x2069) || // word joiner, invisible operators, LRI..PDI
		c === 0x061c || // arabic letter mark
		c === 0x180e || // mongolian vowel separator
		c === 0xfeff // BOM / ZWNBSP
	);
}

// Matches what /\s/ treats as whitespace outside ASCII (U+FEFF is invisible above).
function isUnicodeSpace(c: number): boolean {
	return (
		c === 0xa0 ||
		c === 0x1680 ||
		(c >= 0x2000 && c <= 0x200a) ||
		c === 0x2028 ||
		c === 0x2029 ||
		c === 0x202f ||
		c === 0x205f ||
		c === 0x3000
	);
}

function skipCsi(s: string, i: number): number {
	const n = s.length;
	while (i < n) {
		const c = s.charCodeAt(i);
		if (c >= 0x40 && c <= 0x7e) return i + 1; // final byte
		if (c >= 0x20 && c <= 0x3f) {
			i++; // parameter or intermediate byte
			continue;
		}
		// Malformed: drop what we consumed and let the main loop judge this char.
		return i;
	}
	return n;
}

// OSC, DCS, SOS, PM, APC: a payload up to ST (ESC \ or 8-bit 0x9C). BEL also
// ends OSC in xterm and friends; accepting it for the others only ever drops
// more, never shows an escape. Unterminated strings run to the end, as a
// terminal would swallow them.
function skipString(s: string, i: number): number {
	const n = s.length;
	while (i < n) {
		const c = s.charCodeAt(i);
		if (c === BEL || c === C1_ST || c === 0x18 || c === 0x1a) return i + 1; // CAN/SUB abort too
		if (c === ESC) return s.charCodeAt(i + 1) === 0x5c ? i + 2 : i;
		i++;
	}
	return n;
}

function skipEscape(s: string, i: number): number {
	const n = s.length;
	if (i >= n) return n;
	const c = s.charCodeAt(i);
	if (c === 0x5b) return skipCsi(s, i + 1); // [
	if (c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f) return skipString(s, i + 1); // ] P X ^ _
	// nF/Fp/Fe/Fs: intermediates 0x20-0x2F, then one final 0x30-0x7E (ESC ( B, ESC 7, ESC c, ...)
	let j = i;
	while (j < n) {
		const d = s.charCodeAt(j);
		if (d >= 0x20 && d <= 0x2f) {
			j++;
			continue;
		}
		if (d >= 0x30 && d <= 0x7e) return j + 1;
		break;
	}
	return j;
}

function scan(s: string, sink: Sink): void {
	const n = s.length;
	let i = 0;
	while (i < n) {
		const c = s.charCodeAt(i);
		if (c >= 0x20 && c < 0x7f) {
			i++;
			if (!(c === 0x20 ? sink(' ', SPACE) : sink(s[i - 1]!, TEXT))) return;
			continue;
		}
		if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
			if (c === ESC) {
				i = skipEscape(s, i + 1);
				continue;
			}
			if (c === 0x9b) {
				i = skipCsi(s, i + 1);
				continue;
			}
			if (c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f) {
				i = skipString(s, i + 1);
				continue;
			}
			i++;
			if (c === 0x0a) {
				if (!sink('\n', NEWLINE)) return;
			} else if (c === 0x09) {
				if (!sink('\t', TAB)) return;
			} else if (c === 0x0d) {
				if (!sink('\r', CR)) return;
			}
			continue;
		}
		if (c >= 0xd800 && c <= 0xdfff) {
			const d = s.charCodeAt(i + 1);
			if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
				const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
				i += 2;
				// Unicode tag characters: invisible, used to smuggle hidden text.
				if (cp >= 0xe0000 && cp <= 0xe007f) continue;
				if (!sink(s.slice(i - 2, i), TEXT)) return;
			} else {
				// A lone surrogate cannot be encoded; show what the encoder would.
				i++;
				if (!sink('\ufffd', TEXT)) return;
			}
			continue;
		}
		i++;
		if (isInvisible(c)) continue;
		if (c === 0x2028 || c === 0x2029) {
			if (!sink('\n', NEWLINE)) return;
			continue;
		}
		if (!(isUnicodeSpace(c) ? sink(' ', SPACE) : sink(s[i - 1]!, TEXT))) return;
	}
}

function toText(s: unknown): string | undefined {
	if (s === null || s === undefined) return undefined;
	if (typeof s === 'string') return s;
	try {
		return String(s);
	} catch {
		return undefined;
	}
}

// Most values are short plain ASCII words; skip the scanner for them.
const plain = /^(?:[\x21-\x7e]+ )*[\x21-\x7e]+$/;

/**
 * One display line: escape sequences and control/invisible characters
 * removed, whitespace runs collapsed to one space, trimmed, and cut to at most
 * `maxLength` code points (the last being `…` when anything was cut).
 */
export function sanitize(s: unknown, maxLength = 4096): string {
	const str = toText(s);
	if (str === undefined || !(maxLength >= 1)) return '';
	const limit = Math.floor(maxLength);
	if (str.length <= limit && plain.test(str)) return str;

	let out = '';
	let count = 0;
	let pendingSpace = false;
	let cut = false;
	scan(str, (ch, kind) => {
		if (kind !== TEXT) {
			if (count > 0) pendingSpace = true;
			return true;
		}
		if (count + (pendingSpace ? 2 : 1) > limit) {
			cut = true;
			return false;
		}
		if (pendingSpace) {
			out += ' ';
			count++;
			pendingSpace = false;
		}
		out += ch;
		count++;
		return true;
	});
	return cut ? withEllipsis(out, count, limit) : out;
}

/**
 * Like sanitize, for a line laid out by us around server strings (a dialog
 * line, a help line, a table cell): every whitespace character becomes one
 * space and runs are kept, so indentation and columns stay where they were;
 * only trailing whitespace goes.
 */
export function sanitizeLine(s: unknown, maxLength = 4096): string {
	const str = toText(s);
	if (str === undefined || !(maxLength >= 1)) return '';
	const limit = Math.floor(maxLength);
	if (str.length <= limit && printable.test(str)) return str;

	let out = '';
	let count = 0;
	let spaces = 0; // whitespace seen but not yet emitted: trailing whitespace never is
	let cut = false;
	scan(str, (ch, kind) => {
		if (kind !== TEXT) {
			spaces++;
			return true;
		}
		if (count + spaces + 1 > limit) {
			cut = true;
			return false;
		}
		if (spaces > 0) {
			out += ' '.repeat(spaces);
			count += spaces;
			spaces = 0;
		}
		out += ch;
		count++;
		return true;
	});
	return cut ? withEllipsis(out, count, limit) : out;
}

const printable = /^[\x20-\x7e]*$/;

// What escapeControls shows as \uXXXX: C0 but tab and newline, DEL, C1, the
// invisible and bidi characters isInvisible lists, line and paragraph
// separators, tag characters, and surrogates that are not part of a pair.
const unsafe =
	/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]|\udb40[\udc00-\udc7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

const hex4 = (unit: number) => `\\u${unit.toString(16).padStart(4, '0')}`;

/**
 * For headless output, which scripts read as well as people: nothing is
 * dropped, everything that could act on a terminal or hide text is written
 * as a visible \uXXXX escape instead. Inside a JSON string that escape is
 * the same character again, so --json output stays exact and valid.
 */
export function escapeControls(text: string): string {
	return text.replace(unsafe, m => (m.length === 1 ? hex4(m.charCodeAt(0)) : hex4(m.charCodeAt(0)) + hex4(m.charCodeAt(1))));
}

/** Cut `out` (holding `count` code points, at most `limit`) so that it plus `…` fits in `limit`. */
function withEllipsis(out: string, count: number, limit: number): string {
	let end = out.length;
	while (count > limit - 1 && end > 0) {
		const c = out.charCodeAt(end - 1);
		end -= c >= 0xdc00 && c <= 0xdfff && end >= 2 ? 2 : 1;
		count--;
	}
	return out.slice(0, end).trimEnd() + '…';
}

/**
 * Like sanitize but keeps line breaks and indentation, for showing full query
 * text: tabs become two spaces, CR is dropped, trailing spaces and leading or
 * trailing blank lines go. At most `maxLines` lines of at most `maxLineLength`
 * code points; a cut line ends in `…`, and a last line of `…` marks dropped lines.
 */
export function sanitizeMultiline(s: unknown, maxLines = 200, maxLineLength = 4096): string {
	const str = toText(s);
	if (str === undefined || !(maxLines >= 1) || !(maxLineLength >= 1)) return '';
	const lineLimit = Math.floor(maxLineLength);
	const linesLimit = Math.floor(maxLines);

	const lines: string[] = [];
	let line = '';
	let count = 0; // code points in `line`
	let lineCut = false; // rest of the current source line is being skipped
	let spaceOverflow = false; // whitespace hit the limit; a cut only if text follows
	let blankRun = 0; // blank lines seen but not yet emitted
	let moreLines = false;

	const finishLine = (): boolean => {
		const text = lineCut ? withEllipsis(line, count, lineLimit) : line.trimEnd();
		line = '';
		count = 0;
		lineCut = false;
		spaceOverflow = false;
		if (text === '') {
			// Blank lines only count once something follows them.
			if (lines.length > 0) blankRun++;
			return true;
		}
		if (lines.length + blankRun + 1 > linesLimit) {
			moreLines = true;
			return false;
		}
		for (; blankRun > 0; blankRun--) lines.push('');
		lines.push(text);
		return true;
	};

	scan(str, (ch, kind) => {
		if (kind === NEWLINE) return finishLine();
		if (lineCut || kind === CR) return true;
		if (spaceOverflow) {
			if (kind === TEXT) lineCut = true;
			return true;
		}
		const piece = kind === TAB ? '  ' : ch;
		const width = kind === TAB ? 2 : 1;
		if (count + width > lineLimit) {
			if (kind === TEXT) lineCut = true;
			else spaceOverflow = true;
			return true;
		}
		line += piece;
		count += width;
		return true;
	});
	if (!moreLines) finishLine();

	if (moreLines) {
		// Keep the total within maxLines, the last one saying there was more.
		while (lines.length > linesLimit - 1) lines.pop();
		while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
		lines.push('…');
	}
	return lines.join('\n');
}
