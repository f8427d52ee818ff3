import {stripVTControlCharacters} from 'node:util';
import stringWidth from 'string-width';

// string-width measures anything but printable ASCII by segmenting the string
// into graphemes, which was the largest single cost of drawing a frame: a
// table row with one "…" or "·" took the slow path for all its characters.
// Most of what the console draws is ASCII plus a few narrow symbols, whose
// width is simply the string's length. Everything else goes to string-width.
// The bundle routes Ink's own width calls here too (scripts/bundle.ts).

const unknown = 0;
const narrow = 1;
const other = 2;
const kinds = new Uint8Array(0x10000);

// Only blocks of scripts and symbols that never form clusters: Latin, Greek, Cyrillic, punctuation,
// currency, arrows, maths, technical, box drawing, blocks, shapes, symbols. Within them, marks and
// format characters join or vanish and pictographs can turn into wide emoji.
const simple = /[\u00A0-\u02AF\u0370-\u052F\u2010-\u205E\u20A0-\u20C0\u2100-\u214F\u2190-\u23FF\u2500-\u27BF]/u;
const joins = /[\p{M}\p{Cf}\p{Extended_Pictographic}\p{Emoji_Presentation}]/u;
// The East Asian Wide characters left in those blocks (angle brackets, trigrams, digrams), as
// string-width measures them: deciding a narrow character without asking string-width keeps its
// grapheme segmenter and emoji pattern (about 25 ms of CPU to build) off the console's start.
const wide = /[\u2329\u232A\u2630-\u2637\u268A-\u268F]/;

function kindOf(code: number): number {
	let kind = kinds[code]!;
	if (kind === unknown) {
		const ch = String.fromCharCode(code);
		kind = simple.test(ch) && !joins.test(ch) && !wide.test(ch) ? narrow : other;
		kinds[code] = kind;
	}
	return kind;
}

/** Columns a string takes in the terminal, ANSI styles excluded: string-width's answer, faster. */
export function textWidth(text: string): number {
	if (typeof text !== 'string' || text.length === 0) return 0;
	const plain = text.includes('\u001B') || text.includes('\u009B') ? stripVTControlCharacters(text) : text;
	for (let i = 0; i < plain.length; i++) {
		const code = plain.charCodeAt(i);
		if (code >= 0x20 && code <= 0x7e) continue;
		if (kindOf(code) !== narrow) return stringWidth(text);
	}
	return plain.length;
}

export default textWidth;
