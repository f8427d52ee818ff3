import {test, describe} from 'node:test';
import assert from 'node:assert/strict';
import {escapeControls, sanitize, sanitizeLine, sanitizeMultiline} from '../source/sanitize.js';
import {fit} from '../source/format.js';

const ESC = '\u001b';
const BEL = '\u0007';

// Nothing that could reach the terminal as a control: C0, DEL, C1, bidi, zero-width.
const dangerous = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

describe('sanitize', () => {
	test('null, undefined and non-strings', () => {
		assert.equal(sanitize(null), '');
		assert.equal(sanitize(undefined), '');
		assert.equal(sanitize(42), '42');
		assert.equal(sanitize(true), 'true');
	});

	test('plain text passes unchanged', () => {
		assert.equal(sanitize('SELECT 1'), 'SELECT 1');
		assert.equal(sanitize('héllo wörld ✓ 日本語 🐘'), 'héllo wörld ✓ 日本語 🐘');
	});

	test('OSC 52 clipboard write, BEL and ST terminated', () => {
		assert.equal(sanitize(`a${ESC}]52;c;cm0gLXJmIH4=${BEL}b`), 'ab');
		assert.equal(sanitize(`a${ESC}]52;c;cm0gLXJmIH4=${ESC}\\b`), 'ab');
	});

	test('window title set', () => {
		assert.equal(sanitize(`${ESC}]0;you have been pwned${BEL}idle`), 'idle');
		assert.equal(sanitize(`${ESC}]2;title${ESC}\\x`), 'x');
	});

	test('unterminated OSC runs to the end', () => {
		assert.equal(sanitize(`visible${ESC}]8;;http://evil.example/ and the rest`), 'visible');
	});

	test('CSI: cursor moves, erase, colours, private modes', () => {
		assert.equal(sanitize(`${ESC}[2J${ESC}[H${ESC}[10;20Hx${ESC}[1A${ESC}[31;1mred${ESC}[0m`), 'xred');
		assert.equal(sanitize(`${ESC}[?1049h${ESC}[?25lhidden cursor`), 'hidden cursor');
		assert.equal(sanitize(`${ESC}[38;2;255;0;0mtruecolor${ESC}[m`), 'truecolor');
	});

	test('DCS, SOS, PM, APC strings', () => {
		assert.equal(sanitize(`a${ESC}P1$qm${ESC}\\b`), 'ab');
		assert.equal(sanitize(`a${ESC}Xsos${ESC}\\b`), 'ab');
		assert.equal(sanitize(`a${ESC}^pm${ESC}\\b`), 'ab');
		assert.equal(sanitize(`a${ESC}_Gf=100;AAAA${ESC}\\b`), 'ab');
	});

	test('single-character and nF escapes', () => {
		assert.equal(sanitize(`a${ESC}cb${ESC}7c${ESC}8d${ESC}(Be${ESC}#8f${ESC}Mg`), 'abcdefg');
		assert.equal(sanitize(`trailing${ESC}`), 'trailing');
	});

	test('8-bit C1 CSI and OSC', () => {
		assert.equal(sanitize('a\u009b2Jb\u009b31mc'), 'abc');
		assert.equal(sanitize('a\u009d0;title\u0007b'), 'ab');
		assert.equal(sanitize('a\u009d52;c;Zm9v\u009cb'), 'ab');
		assert.equal(sanitize('a\u0090dcs\u009cb'), 'ab');
	});

	test('other C0 and C1 controls, DEL, NUL', () => {
		assert.equal(sanitize('a\u0000b\u0008c\u007fd\u0085e\u0099f\u000bg\u000ch'), 'abcdefgh');
	});

	test('tab, newline and CR become one space; runs collapse; trimmed', () => {
		assert.equal(sanitize('  select\t*\r\n  from\n\n\tt  '), 'select * from t');
		assert.equal(sanitize('a\u00a0\u2003 b\u2028c'), 'a b c');
	});

	test('bidi controls (Trojan Source) are removed', () => {
		assert.equal(sanitize('admin\u202e\u2066txt.exe\u2069\u202c'), 'admintxt.exe');
		assert.equal(sanitize('\u200e\u200f\u061c\u202a\u202b\u202d\u2067\u2068x'), 'x');
	});

	test('zero-width characters and BOM are removed', () => {
		assert.equal(sanitize('\ufeffpo\u200bst\u200cgr\u200des'), 'postgres');
	});

	test('invisible tag characters are removed, lone surrogates replaced', () => {
		assert.equal(sanitize('a\u{e0041}\u{e0042}b'), 'ab');
		assert.equal(sanitize('a\ud800b\udc00c'), 'a\ufffdb\ufffdc');
	});

	test('nothing dangerous survives a mixed payload', () => {
		const nasty = `${ESC}]52;c;x${BEL}\u009b2J\u202eq\u0000\u200b${ESC}[1;1H${ESC}Pq${ESC}\\\u009d0;t${BEL}${ESC}`;
		const out = sanitize(nasty);
		assert.doesNotMatch(out, dangerous);
		assert.equal(out, 'q');
	});

	test('long lines are cut to maxLength code points, ending with …', () => {
		const out = sanitize('x'.repeat(10_000));
		assert.equal([...out].length, 4096);
		assert.ok(out.endsWith('x…'));
		assert.equal(sanitize('abcdefghij', 5), 'abcd…');
		assert.equal(sanitize('abcde', 5), 'abcde');
		assert.equal(sanitize('abc de', 5), 'abc…');
		assert.equal(sanitize('abcdef', 1), '…');
		assert.equal(sanitize('abc', 0), '');
	});

	test('the cut counts code points, never splitting a surrogate pair', () => {
		const out = sanitize('🐘'.repeat(10), 4);
		assert.equal(out, '🐘🐘🐘…');
	});

	test('trailing whitespace or escapes after the limit do not count as cut', () => {
		assert.equal(sanitize(`abcde   \n${ESC}[0m  `, 5), 'abcde');
	});

	test('escapes do not count towards the length', () => {
		assert.equal(sanitize(`${ESC}[31m`.repeat(1000) + 'abc', 5), 'abc');
	});

	test('1 MB inputs: output stays bounded', () => {
		const mb = 1 << 20;
		assert.equal([...sanitize('y'.repeat(mb))].length, 4096);
		assert.equal([...sanitize('word '.repeat(mb / 5), 100)].length, 100);
		assert.equal(sanitize(`${ESC}]0;${'z'.repeat(mb)}`), '');
		assert.equal(sanitize(`${ESC}[1m`.repeat(mb / 4)), '');
		assert.equal([...sanitize('\u0000a'.repeat(mb / 2))].length, 4096);
	});
});

describe('sanitizeMultiline', () => {
	test('keeps line breaks and indentation; tabs become two spaces; CR dropped', () => {
		assert.equal(sanitizeMultiline('SELECT a,\r\n\tb\r\nFROM t\n  WHERE x'), 'SELECT a,\n  b\nFROM t\n  WHERE x');
	});

	test('drops trailing spaces and leading/trailing blank lines, keeps inner blanks', () => {
		assert.equal(sanitizeMultiline('\n\n  select 1   \n\n\nfrom x  \n\n'), '  select 1\n\n\nfrom x');
	});

	test('same escapes and invisibles removed', () => {
		const out = sanitizeMultiline(`a${ESC}]52;c;x${BEL}\n\u202eb\u200b${ESC}[2J\n\u009b1mc\u0000`);
		assert.equal(out, 'a\nb\nc');
		assert.doesNotMatch(out.replace(/\n/g, ''), dangerous);
	});

	test('null and undefined', () => {
		assert.equal(sanitizeMultiline(null), '');
		assert.equal(sanitizeMultiline(undefined), '');
	});

	test('long lines cut with …', () => {
		assert.equal(sanitizeMultiline('abcdefgh\nxy', 200, 5), 'abcd…\nxy');
		assert.equal(sanitizeMultiline('abcde   \nxy', 200, 5), 'abcde\nxy');
		assert.equal(sanitizeMultiline('abc\tdef', 200, 5), 'abc…');
	});

	test('too many lines: at most maxLines, the last one …', () => {
		const src = Array.from({length: 10}, (_, i) => `line ${i}`).join('\n');
		assert.equal(sanitizeMultiline(src, 3), 'line 0\nline 1\n…');
		assert.equal(sanitizeMultiline(src, 10), src);
	});

	test('blank lines at the cut are not kept before …', () => {
		assert.equal(sanitizeMultiline('a\n\n\n\nb\nc', 3), 'a\n…');
	});

	test('1 MB inputs: output stays bounded', () => {
		const mb = 1 << 20;
		const one = sanitizeMultiline('q'.repeat(mb));
		assert.equal([...one].length, 4096);
		const many = sanitizeMultiline('row\n'.repeat(mb / 4));
		assert.equal(many.split('\n').length, 200);
		assert.equal(many.split('\n').at(-1), '…');
	});
});

describe('sanitizeLine', () => {
	test('keeps indentation and the spaces that line up columns; drops trailing whitespace', () => {
		assert.equal(sanitizeLine('  pid 42    alice   idle'), '  pid 42    alice   idle');
		assert.equal(sanitizeLine('  a\tb\r\nc  \n'), '  a b  c');
	});

	test('the same escapes, controls and invisibles go as in sanitize', () => {
		const out = sanitizeLine(`  role ${ESC}]0;pwned${BEL}x\u009d0;t\u009c \u202eab\u200b${ESC}[2J\u{e0041}  \ud800`);
		assert.equal(out, '  role x ab  \ufffd');
		assert.doesNotMatch(out, dangerous);
	});

	test('cut to maxLength code points with …', () => {
		assert.equal(sanitizeLine('  abcdefgh', 6), '  abc…');
		assert.equal(sanitizeLine('日本語🐘日本語', 4), '日本語…');
		assert.equal([...sanitizeLine('x'.repeat(10_000))].length, 4096);
	});
});

describe('fit', () => {
	test('a cell never carries a control, whatever the caller passed', () => {
		const cell = fit(`${ESC}]0;pwned${BEL}bob\u009b2Jé`, 10);
		assert.equal(cell, 'bobé      ');
		assert.doesNotMatch(cell, dangerous);
	});

	test('wide characters count double after sanitising', () => {
		assert.equal(fit(`日本${ESC}[31m語`, 5), '日本…');
	});
});

describe('escapeControls', () => {
	test('plain text, wide characters and U+FFFD pass unchanged', () => {
		assert.equal(escapeControls('SELECT 1 -- 日本語 🐘 \ufffd\tx\ny'), 'SELECT 1 -- 日本語 🐘 \ufffd\tx\ny');
	});

	test('every control, C1, bidi, zero-width, tag and lone surrogate becomes a visible \\uXXXX', () => {
		assert.equal(escapeControls(`a${ESC}]0;t${BEL}b`), 'a\\u001b]0;t\\u0007b');
		assert.equal(escapeControls('\u009b2J\u009d0;x\u009c'), '\\u009b2J\\u009d0;x\\u009c');
		assert.equal(escapeControls('\u202eab\u2066\u200b\ufeff\r'), '\\u202eab\\u2066\\u200b\\ufeff\\u000d');
		assert.equal(escapeControls('x\u{e0041}y'), 'x\\udb40\\udc41y');
		assert.equal(escapeControls('a\ud800b\udc00'), 'a\\ud800b\\udc00');
		assert.doesNotMatch(escapeControls(`${ESC}P1$q${ESC}\\\u0085\u2028`), dangerous);
	});

	test('inside JSON the escapes are the same characters again', () => {
		const value = {role: `${ESC}]0;pwned${BEL}\u009b\u202e\u{e0041}\ud800 日本`};
		const printed = escapeControls(JSON.stringify(value));
		assert.doesNotMatch(printed, /[^\x20-\x7e日本]/);
		assert.deepEqual(JSON.parse(printed), value);
	});
});
